"""The run summary: last values by default, or per-metric aggregates declared with define_metric().

The same SummaryState folds journal records on the writer (as log() runs) and on readers (replaying a
crashed run), so a summary can always be rebuilt from the history file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from tracker import _validate
from tracker._errors import UsageError
from tracker._journal import AGGREGATES, EVENT, GOALS, STEP


class MetricRule:
    """How define_metric() said to summarize the metrics matching ``pattern``."""

    __slots__ = ("aggregates", "goal", "hidden", "pattern", "step_metric")

    def __init__(
        self,
        pattern: str,
        aggregates: tuple[str, ...] = ("last",),
        step_metric: str | None = None,
        goal: str | None = None,
        hidden: bool = False,
    ) -> None:
        self.pattern = pattern
        self.aggregates = aggregates
        self.step_metric = step_metric
        self.goal = goal
        self.hidden = hidden

    def matches(self, key: str) -> bool:
        if self.pattern.endswith("*"):
            return key.startswith(self.pattern[:-1])
        return key == self.pattern

    def to_event(self) -> dict[str, Any]:
        return {
            EVENT: "metric",
            "name": self.pattern,
            "summary": list(self.aggregates),
            "step_metric": self.step_metric,
            "goal": self.goal,
            "hidden": self.hidden,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> MetricRule:
        return cls(
            event["name"],
            tuple(event.get("summary") or ("last",)),
            event.get("step_metric"),
            event.get("goal"),
            bool(event.get("hidden")),
        )


def parse_rule(name: Any, step_metric: Any, summary: Any, goal: Any, hidden: Any) -> MetricRule:
    """Validate define_metric() arguments into a rule."""
    _validate.text("define_metric: name", name, max_length=_validate.MAX_IDENTIFIER, allow_empty=False)
    if "*" in name[:-1]:
        raise UsageError(f"define_metric: name={name!r}: '*' is only allowed at the end (a prefix glob)")
    if step_metric is not None:
        _validate.text("define_metric: step_metric", step_metric, allow_empty=False)
    aggregates: tuple[str, ...] = ("last",)
    if summary is not None:
        if not isinstance(summary, str):
            raise UsageError(f"define_metric: summary={summary!r} must be a string such as 'min' or 'min,max'")
        aggregates = tuple(part.strip() for part in summary.split(",") if part.strip())
        for aggregate in aggregates:
            _validate.choice("define_metric: summary", aggregate, AGGREGATES)
        if "none" in aggregates and len(aggregates) > 1:
            raise UsageError(f"define_metric: summary={summary!r}: 'none' cannot be combined with others")
    if goal is not None:
        _validate.choice("define_metric: goal", goal, GOALS)
    return MetricRule(name, aggregates, step_metric, goal, bool(hidden))


def _as_number(value: Any) -> float | None:
    """A real number (numpy/torch scalars and 0-d arrays included), or None for anything else."""
    if isinstance(value, bool | str | bytes) or not hasattr(value, "__float__") or getattr(value, "ndim", 0) != 0:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class SummaryState:
    """Summary values plus the running state that min/max/mean/first need."""

    __slots__ = ("_counts", "_rule_cache", "rules", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.rules: list[MetricRule] = []
        self._rule_cache: dict[str, MetricRule | None] = {}
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}

    def define(self, rule: MetricRule) -> None:
        self.rules = [existing for existing in self.rules if existing.pattern != rule.pattern] + [rule]
        self._rule_cache.clear()

    def _rule_for(self, key: str) -> MetricRule | None:
        try:
            return self._rule_cache[key]
        except KeyError:
            exact = [rule for rule in self.rules if rule.pattern == key]
            globs = [rule for rule in self.rules if rule.pattern.endswith("*") and rule.matches(key)]
            globs.sort(key=lambda rule: len(rule.pattern))
            rule = exact[-1] if exact else (globs[-1] if globs else None)
            self._rule_cache[key] = rule
            return rule

    def observe_row(self, row: Mapping[str, Any]) -> None:
        """Fold one logged row (its ``_step``/``_runtime``/``_timestamp`` included)."""
        if not self.rules:
            self.values.update(row)
            return
        for key, value in row.items():
            rule = None if key.startswith("_") else self._rule_for(key)  # _step, _runtime: always last
            if rule is None or rule.aggregates == ("last",):
                self.values[key] = value
            else:
                self._aggregate(key, value, rule.aggregates)

    def _aggregate(self, key: str, value: Any, aggregates: tuple[str, ...]) -> None:
        if aggregates == ("none",):
            self.values.pop(key, None)
            return
        current = self.values.get(key)
        results = dict(current) if len(aggregates) > 1 and isinstance(current, dict) else {}
        if len(aggregates) == 1 and current is not None:
            results[aggregates[0]] = current
        for aggregate in aggregates:
            results[aggregate] = self._fold(key, aggregate, results.get(aggregate), value)
        self.values[key] = results if len(aggregates) > 1 else results[aggregates[0]]

    def _fold(self, key: str, aggregate: str, previous: Any, value: Any) -> Any:
        if aggregate == "last":
            return value
        if aggregate == "first":
            return value if previous is None else previous
        number = _as_number(value)
        if number is None:
            return previous
        best = _as_number(previous)
        if aggregate == "min":
            return number if best is None or number < best else previous
        if aggregate == "max":
            return number if best is None or number > best else previous
        total, count = self._counts.get((key, aggregate), (0.0, 0))
        total, count = total + number, count + 1
        self._counts[(key, aggregate)] = (total, count)
        return total / count

    def set_explicit(self, values: Mapping[str, Any]) -> None:
        self.values.update(values)

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.values.pop(key, None)

    def fold(self, record: Mapping[str, Any]) -> None:
        """Fold one journal record of any kind."""
        event = record.get(EVENT)
        if event is None:
            self.observe_row(record)
        elif event == "summary":
            self.set_explicit(record.get("data") or {})
        elif event == "summary_delete":
            self.delete(record.get("keys") or ())
        elif event == "metric":
            self.define(MetricRule.from_event(record))


def replay(records: Iterable[Mapping[str, Any]]) -> tuple[SummaryState, int | None]:
    """Rebuild the summary of a journal and find its last step (None when no row was logged)."""
    state = SummaryState()
    last_step: int | None = None
    for record in records:
        state.fold(record)
        step = record.get(STEP)
        if step is not None and (last_step is None or step > last_step):
            last_step = step
    return state, last_step


class Summary(MutableMapping[str, Any]):
    """``run.summary``: read the folded values; explicit writes are journaled so a kill cannot lose them."""

    def __init__(self, state: SummaryState, on_write: Callable[[dict[str, Any]], None]) -> None:
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_on_write", on_write)

    def __getitem__(self, key: str) -> Any:
        return self._state.values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        if key not in self._state.values:
            raise KeyError(key)
        self._on_write({EVENT: "summary_delete", "keys": [key]})
        self._state.delete([key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._state.values)

    def __len__(self) -> int:
        return len(self._state.values)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        values = dict(other, **kwargs)
        for key in values:
            if not isinstance(key, str):
                raise TypeError(f"summary keys must be str, not {type(key).__name__} ({key!r})")
        self._on_write({EVENT: "summary", "data": values})
        self._state.set_explicit(values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state.values[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._state.values)

    def __repr__(self) -> str:
        return f"Summary({self._state.values!r})"
