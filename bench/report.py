"""Turns samples into the JSON result and prints it as a table (rich when installed, plain text otherwise)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench.adapters import BASELINE
from bench.catalog import WORKLOADS, Scale
from bench.runner import ToolStatus
from bench.stats import Sample, aggregate

ARROW = {"lower": "↓", "higher": "↑"}


def build_results(
    statuses: dict[str, ToolStatus],
    samples: dict[str, list[Sample]],
    scale: Scale,
    quick: bool,
    argv: list[str],
    elapsed_s: float,
) -> dict[str, Any]:
    tools = {
        name: {"available": st.available, "version": st.version, "reason": st.reason} for name, st in statuses.items()
    }
    workloads = []
    for name, workload_samples in samples.items():
        workload = WORKLOADS[name]
        metrics = []
        for metric in workload.metrics:
            cells = aggregate(workload_samples, metric.key, metric.per, metric.ratio, BASELINE)
            metrics.append(
                {
                    "key": metric.key,
                    "label": metric.label,
                    "unit": metric.unit,
                    "better": metric.better,
                    "ratio_basis": f"per {metric.per}" if metric.per else "as measured",
                    "cells": cells,
                }
            )
        workloads.append({"name": name, "title": workload.title, "metrics": metrics})
    return {
        "meta": {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": argv,
            "quick": quick,
            "reps": scale.reps,
            "scale": {k: v for k, v in vars(scale).items() if k != "notes"},
            "notes": list(scale.notes),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "elapsed_s": round(elapsed_s, 1),
            "baseline": BASELINE,
            "ratio": f"tool / {BASELINE}, median of pairs measured back to back",
        },
        "tools": tools,
        "workloads": workloads,
    }


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


# -- formatting ---------------------------------------------------------------------------------------
def fmt(value: float, unit: str) -> str:
    if unit == "us":
        value, unit = value / 1e6, "s"
    if unit == "s":
        if value < 0:
            return f"{value * 1e3:.0f} ms"
        if value < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if value < 1:
            return f"{value * 1e3:.3g} ms"
        return f"{value:.3g} s" if value < 100 else f"{value:.0f} s"
    if unit == "MB":
        return f"{value:.0f} MB" if value else "none"
    if unit == "bytes":
        for size, prefix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= size:
                return f"{value / size:.3g} {prefix}"
        return f"{value:.0f} B"
    if unit == "per_s":
        for rate, prefix in ((1e6, "M/s"), (1e3, "k/s")):
            if value >= rate:
                return f"{value / rate:.3g} {prefix}"
        return f"{value:.3g}/s"
    return f"{value:,.0f}"


def cell_text(cell: dict[str, Any] | None, unit: str, status: dict[str, Any], baseline_ran: bool) -> str:
    if not status["available"]:
        return f"not installed: {status['reason']}"
    if cell is None:
        return "not run"
    lines = []
    if "median" in cell:
        text = fmt(cell["median"], unit)
        if cell["n"] > 1:
            text += f" [{fmt(cell['min'], unit)}, {fmt(cell['max'], unit)}]"
        lines.append(text)
        ratio = cell.get("ratio")
        if ratio:
            spread = f" [{ratio['min']:.3g}, {ratio['max']:.3g}]" if ratio["n"] > 1 else ""
            lines.append(f"x{ratio['median']:.3g}{spread}")
        elif "ratio" in cell and baseline_ran:
            lines.append("x n/a (no pair)")
    lines.extend(f"error: {e}" for e in cell.get("errors", []))
    lines.extend(cell.get("notes", []))
    return "\n".join(lines) if lines else "no value"


def table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    tools = results["tools"]
    header = ["workload / metric"] + [
        f"{name} {info['version']}" if info["available"] else name for name, info in tools.items()
    ]
    baseline_ran = tools.get(BASELINE, {}).get("available", False)
    rows = []
    for workload in results["workloads"]:
        for metric in workload["metrics"]:
            label = f"{workload['title']}\n{metric['label']} {ARROW[metric['better']]}"
            rows.append(
                [label]
                + [
                    cell_text(metric["cells"].get(name), metric["unit"], info, baseline_ran)
                    for name, info in tools.items()
                ]
            )
    return header, rows


def footer(results: dict[str, Any]) -> list[str]:
    meta = results["meta"]
    lines = [
        f"median of {meta['reps']} repetition(s) [min, max]; xR = {meta['ratio']} [min, max] "
        "(↓ lower is better, ↑ higher is better)",
    ]
    lines.extend(meta["notes"])
    lines.append(f"{meta['platform']}, {meta['cpus']} CPUs, Python {meta['python']}; took {meta['elapsed_s']} s")
    return lines


def print_table(results: dict[str, Any]) -> None:
    header, rows = table_rows(results)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print_plain(header, rows)
    else:
        table = Table(title="tracker vs peers", show_lines=True)
        for i, name in enumerate(header):
            table.add_column(name, overflow="fold", max_width=None if i else 34)
        for row in rows:
            table.add_row(*row)
        console = Console(width=max(120, Console().width))
        console.print(table)
    for line in footer(results):
        print(line)


def print_plain(header: list[str], rows: list[list[str]]) -> None:
    split = [[cell.split("\n") for cell in row] for row in [header, *rows]]
    widths = [max(len(line) for row in split for line in row[i]) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)
    for n, row in enumerate(split):
        for k in range(max(len(c) for c in row)):
            print(" | ".join((c[k] if k < len(c) else "").ljust(w) for c, w in zip(row, widths, strict=True)))
        print(rule if n else rule.replace("-", "="))
