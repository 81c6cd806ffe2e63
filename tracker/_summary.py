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

    __slots__ = ("aggregates", "goal", "hidden", "pattern", "step_metric", "step_sync")

    def __init__(
        self,
        pattern: str,
        aggregates: tuple[str, ...] = ("last",),
        step_metric: str | None = None,
        goal: str | None = None,
        hidden: bool = False,
        step_sync: bool = False,
    ) -> None:
        self.pattern = pattern
        self.aggregates = aggregates
        self.step_metric = step_metric
        self.goal = goal
        self.hidden = hidden
        self.step_sync = step_sync and step_metric is not None

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
            "step_sync": self.step_sync,
            "goal": self.goal,
            "hidden": self.hidden,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> MetricRule:
        step_sync = event.get("step_sync")
        return cls(
            event["name"],
            tuple(event.get("summary") or ("last",)),
            event.get("step_metric"),
            event.get("goal"),
            bool(event.get("hidden")),
            True if step_sync is None else step_sync,  # journals from before step_sync: wandb's default
        )


def parse_rule(
    name: Any,
    step_metric: Any,
    summary: Any,
    goal: Any,
    hidden: Any,
    *,
    step_sync: Any = None,
    overwrite: Any = None,
    defined: Iterable[MetricRule] = (),
) -> MetricRule:
    """Validate define_metric() arguments into the rule now in force for ``name``.

    As in wandb, a later call for the same name is merged into the earlier one (arguments it leaves
    out keep their earlier values; summaries add up) unless ``overwrite=True``. ``step_sync`` defaults
    to true when a ``step_metric`` is given.
    """
    _validate.text("define_metric: name", name, max_length=_validate.MAX_IDENTIFIER, allow_empty=False)
    if "*" in name[:-1]:
        raise UsageError(f"define_metric: name={name!r}: '*' is only allowed at the end (a prefix glob)")
    if step_metric is not None:
        _validate.text("define_metric: step_metric", step_metric, allow_empty=False)
    aggregates = _aggregates(summary) if summary is not None else None
    if goal is not None:
        _validate.choice("define_metric: goal", goal, GOALS)
    if step_sync is not None:
        step_sync = _validate.boolean("define_metric: step_sync", step_sync)
    elif step_metric is not None:
        step_sync = True
    if hidden is not None:
        hidden = _validate.boolean("define_metric: hidden", hidden)
    overwrite = _validate.boolean("define_metric: overwrite", overwrite) if overwrite is not None else False
    previous = None if overwrite else next((rule for rule in defined if rule.pattern == name), None)
    if previous is None:
        return MetricRule(name, aggregates or ("last",), step_metric, goal, bool(hidden), bool(step_sync))
    if aggregates is not None and previous.aggregates != ("last",):  # the default "last" is not a choice made
        merged = (*previous.aggregates, *(item for item in aggregates if item not in previous.aggregates))
        aggregates = ("none",) if "none" in merged else merged
    return MetricRule(
        name,
        aggregates or previous.aggregates,
        step_metric if step_metric is not None else previous.step_metric,
        goal if goal is not None else previous.goal,
        hidden if hidden is not None else previous.hidden,
        step_sync if step_sync is not None else previous.step_sync,
    )


def _aggregates(summary: Any) -> tuple[str, ...]:
    """``"min,max"`` -> ("min", "max"); wandb's ``copy`` (the plain last value) is ``last`` here."""
    if not isinstance(summary, str):
        raise UsageError(f"define_metric: summary={summary!r} must be a string such as 'min' or 'min,max'")
    aggregates = tuple(part.strip() for part in summary.split(",") if part.strip())
    for aggregate in aggregates:
        _validate.choice("define_metric: summary", aggregate, (*AGGREGATES, "copy"))
    if "none" in aggregates and len(aggregates) > 1:
        raise UsageError(f"define_metric: summary={summary!r}: 'none' cannot be combined with others")
    return tuple(dict.fromkeys("last" if aggregate == "copy" else aggregate for aggregate in aggregates))


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

    __slots__ = ("_counts", "_last_steps", "_rule_cache", "rules", "step_syncs", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.rules: list[MetricRule] = []
        self._rule_cache: dict[str, MetricRule | None] = {}
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}
        self.step_syncs: frozenset[str] = frozenset()  # step metrics that rules with step_sync copy into rows
        self._last_steps: dict[str, Any] = {}  # their last logged values

    def define(self, rule: MetricRule) -> None:
        """Put ``rule`` in force (it replaces any earlier rule for its pattern: parse_rule has merged them)."""
        self.rules = [existing for existing in self.rules if existing.pattern != rule.pattern] + [rule]
        self._rule_cache.clear()
        self.step_syncs = frozenset(rule.step_metric for rule in self.rules if rule.step_sync and rule.step_metric)
        if rule.step_sync and rule.step_metric and rule.step_metric not in self._last_steps:
            last = self.values.get(rule.step_metric)  # logged before this rule: the summary has it unless aggregated
            step_rule = self._rule_for(rule.step_metric)
            if last is not None and (step_rule is None or step_rule.aggregates == ("last",)):
                self._last_steps[rule.step_metric] = last

    def sync_steps(self, row: dict[str, Any]) -> None:
        """wandb's step_sync: a row logging a metric but not its step metric gets that one's last value.

        Called for every row while some rule has step_sync (``step_syncs`` is not empty), before the
        row is written, so the history holds what the charts plot against; the values are remembered
        by ``observe_row`` once the row is stored (a rejected log() changes nothing).
        """
        added = {}
        for key in row:
            rule = None if key.startswith("_") else self._rule_for(key)
            step = rule.step_metric if rule is not None and rule.step_sync else None
            if step is not None and step not in row and self._last_steps.get(step) is not None:
                added[step] = self._last_steps[step]
        row.update(added)

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
        for name in self.step_syncs:
            if name in row:
                self._last_steps[name] = row[name]
        for key, value in row.items():
            rule = None if key.startswith("_") else self._rule_for(key)  # _step, _runtime: always last
            if rule is None or rule.aggregates == ("last",):
                self.values[key] = value
            else:
                self._aggregate(key, value, rule)

    def _aggregate(self, key: str, value: Any, rule: MetricRule) -> None:
        aggregates = rule.aggregates
        if aggregates == ("none",):
            self.values.pop(key, None)
            return
        current = self.values.get(key)
        results = dict(current) if len(aggregates) > 1 and isinstance(current, dict) else {}
        if len(aggregates) == 1 and current is not None:
            results[aggregates[0]] = current
        for aggregate in aggregates:
            if aggregate == "best":  # min or max as the goal says (minimize when none is given, as in wandb)
                aggregate_as = "max" if rule.goal == "maximize" else "min"
                results[aggregate] = self._fold(key, aggregate_as, results.get(aggregate), value)
            else:
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
