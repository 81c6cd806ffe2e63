"""Medians with min and max, and ratios against the baseline taken pair by pair."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Summary:
    median: float
    min: float
    max: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    return Summary(statistics.median(values), min(values), max(values), len(values))


def paired_ratios(peer: Mapping[Any, float], base: Mapping[Any, float]) -> list[float]:
    """peer/base for every pair key both sides measured (each pair ran back to back)."""
    return [peer[k] / base[k] for k in peer if k in base and base[k] not in (0, None)]


@dataclass
class Sample:
    """One measurement of one tool: its numbers, and the key pairing it with a baseline measurement."""

    tool: str
    pair: tuple[int, str] | None
    values: dict[str, float] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)  # metric key (or "*" for all) -> notes
    error: str | None = None


def aggregate(
    samples: Sequence[Sample], key: str, per: str | None, with_ratio: bool, baseline: str
) -> dict[str, dict[str, Any]]:
    """Per tool: summary of `key`, and the median/min/max of its paired ratios against the baseline."""
    cells: dict[str, dict[str, Any]] = {}
    by_tool: dict[str, list[Sample]] = {}
    for sample in samples:
        by_tool.setdefault(sample.tool, []).append(sample)

    def normalized(sample: Sample) -> float | None:
        value = sample.values.get(key)
        if value is None or per is None:
            return value
        count = sample.values.get(per)
        return value / count if count else None

    base_by_pair = {s.pair: v for s in by_tool.get(baseline, []) if s.pair and (v := normalized(s)) is not None}
    for tool, tool_samples in by_tool.items():
        values = [s.values[key] for s in tool_samples if s.values.get(key) is not None]
        summary = summarize(values)
        cell: dict[str, Any] = {
            "samples": values,
            "notes": sorted({n for s in tool_samples for k in ("*", key) for n in s.notes.get(k, [])}),
            "errors": sorted({s.error for s in tool_samples if s.error and s.values.get(key) is None}),
        }
        if summary:
            cell.update(summary.as_dict())
        if with_ratio and tool != baseline and summary:
            peer_by_pair = {s.pair: v for s in tool_samples if s.pair and (v := normalized(s)) is not None}
            ratio = summarize(paired_ratios(peer_by_pair, base_by_pair))
            cell["ratio"] = ratio.as_dict() if ratio else None
            if ratio and per:
                cell["ratio_basis"] = f"per {per}"
        cells[tool] = cell
    return cells
