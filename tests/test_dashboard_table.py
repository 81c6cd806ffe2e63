"""The runs table's server side: filters, sorting with missing values last, paging, and the snapshot cache,
on SQLite and on PostgreSQL (whose driver decodes JSON columns itself)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from server import accounts, ingest
from server.db import Store
from server.table import Query, RunsTable, check_sort


@pytest.fixture
def store(tmp_path: Path, database: str | None):
    opened = Store(
        database.replace("postgresql://", "postgresql+psycopg://") if database else f"sqlite:///{tmp_path}/t.db"
    )
    opened.upgrade()
    yield opened
    opened.dispose()


def add_run(store: Store, run_id: str, name: str, **fields) -> None:
    batch = {
        "journal_id": "j",
        "offset": 0,
        "end": 1,
        "records": [{"_step": 0, "loss": 1.0}],
        "run": {
            "name": name,
            "group": fields.get("group"),
            "tags": fields.get("tags", []),
            "created_at": f"2026-01-01T00:00:{run_id[1:]:0>2}Z",
        },
        "config": fields.get("config", {}),
        "summary": fields.get("summary", {}),
    }
    with store.writing() as connection:
        ingest.apply(connection, accounts.entity_id(connection, "ada"), "p", run_id, ingest.parse(orjson.dumps(batch)))


def test_filters_sort_page_and_see_new_runs(store):
    with store.writing() as connection:
        accounts.add_user(connection, "ada")
        accounts.add_user(connection, "bob")
    add_run(store, "r1", "alpha", group="g1", tags=["x"], config={"opt": {"lr": 0.1}}, summary={"loss": 0.5})
    add_run(store, "r2", "beta", group="g1", tags=["y"], config={"opt": {"lr": 0.01}})
    add_run(store, "r3", "gamma", group="g2", tags=["x"], config={"opt": {"lr": "auto"}}, summary={"loss": 0.2})
    table = RunsTable(heartbeat_timeout=60)

    def page(who: str = "ada", **query) -> dict:
        with store.reading() as connection:
            return table.page(connection, frozenset([who]), Query(**query))

    everything = page()
    assert everything["total"] == 3 and everything["facets"]["config"] == ["opt.lr"]
    assert everything["facets"]["groups"] == ["g1", "g2"] and everything["facets"]["summary"] == ["loss"]
    assert [run["name"] for run in page(group="g1")["runs"]] == ["beta", "alpha"]  # newest first
    assert [run["name"] for run in page(tag="x", q="GAM")["runs"]] == ["gamma"]
    by_loss = page(sort="summary.loss", descending=False, columns=("summary.loss",))["runs"]
    assert [run["columns"]["summary.loss"] for run in by_loss] == [0.2, 0.5, None]  # missing last
    by_lr = page(sort="config.opt.lr", descending=False)["runs"]
    assert [run["name"] for run in by_lr] == ["beta", "alpha", "gamma"]  # numbers before text
    assert [run["name"] for run in page(sort="name", offset=1, limit=1, descending=False)["runs"]] == ["beta"]
    assert page(who="bob")["total"] == 0  # another entity's runs are not listed
    add_run(store, "r4", "delta")
    assert page()["total"] == 4  # a new run invalidates the snapshot
    assert check_sort("config.x") is None and "sort='bogus'" in (check_sort("bogus") or "")
