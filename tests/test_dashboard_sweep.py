"""The sweep page, the group band by standard deviation, step-metric x axes and live charts that fetch only new
steps: over HTTP against a real `tracker server` (SQLite and PostgreSQL), and in a real headless Chromium
against `tracker ui` on a real Hydra sweep and against a signed-in `tracker server`.

Pages are checked through their test hook (``window.__tracker``) and the DOM; screenshots are written next
to each test's files.
"""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

import orjson
import pytest

from tests.conftest import LiveServer
from tests.test_dashboard import TIMEOUT_MS, LocalUI, chromium, page  # noqa: F401  (fixtures)

SWEPT = [(lr, seed) for lr in (0.1, 0.01) for seed in (0, 1)]


def post(server: LiveServer, key: str, entity: str, run_id: str, records: list, **batch) -> None:
    body = orjson.dumps({"journal_id": "j", "offset": 0, "end": len(records), "records": records, **batch})
    request = urllib.request.Request(
        f"{server.url}/api/runs/{entity}/sweeps/{run_id}/batches",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def post_sweep(server: LiveServer, key: str, entity: str) -> dict[str, float]:
    """Four runs of group "g" (lr x seed; the last one failed) that declare acc's goal as maximize; acc by run id."""
    accs = {}
    for index, (lr, seed) in enumerate(SWEPT):
        run_id = f"r{index}"
        accs[run_id] = acc = round(0.5 + lr * 3 + seed * 0.01, 6)
        rule = {"_event": "metric", "name": "acc", "summary": ["last"], "goal": "maximize", "step_metric": None}
        rows = [{"_step": step, "_timestamp": 1000.0 + step, "acc": acc * (step + 1) / 10} for step in range(10)]
        state = "failed" if index == 3 else "finished"
        post(
            server,
            key,
            entity,
            run_id,
            [rule, *rows],
            run={"name": f"lr={lr},seed={seed}", "group": "g", "state": state},
            config={"lr": lr, "seed": seed, "epochs": 10},
            summary={"acc": acc, "loss": 1 - acc, "_step": 9},
        )
    return accs


def signed_in(server: LiveServer, key: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    request = urllib.request.Request(
        server.url + "/api/ui/session", data=orjson.dumps({"key": key}), headers={"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=30) as answer:
        assert answer.status == 200
    return opener


def get(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, dict]:
    try:
        with opener.open(url, timeout=30) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def sweep_url(server: LiveServer, entity: str, group: str = "g", **extra: str) -> str:
    query = urllib.parse.urlencode({"entity": entity, "project": "sweeps", "group": group, **extra})
    return f"{server.url}/api/ui/sweep?{query}"


def test_the_sweep_endpoint_scores_a_group_by_its_declared_goal_and_hides_other_entities(server):
    ada, bob = server.user("ada"), server.user("bob")
    accs = post_sweep(server, ada, "ada")
    opener = signed_in(server, ada)
    status, sweep = get(opener, sweep_url(server, "ada"))
    assert status == 200, sweep
    assert sweep["params"] == ["lr", "seed"] and sweep["metrics"] == ["acc", "loss"]
    assert (sweep["metric"], sweep["goal"], sweep["goal_declared"]) == ("acc", "max", True)  # define_metric's goal
    assert sweep["states"] == {"finished": 3, "failed": 1}
    finished = {run_id: acc for run_id, acc in accs.items() if run_id != "r3"}  # a failed run's summary does not count
    assert sweep["best_run"] == max(finished, key=finished.get) == "r1"
    best, other = sweep["results"]  # one row per lr, over the seeds
    assert best["best"] and best["config"] == {"lr": 0.1, "epochs": 10} and best["n"] == 2 and best["excluded"] == 0
    assert best["mean"] == pytest.approx((accs["r0"] + accs["r1"]) / 2) and best["std"] == pytest.approx(0.01 / 2**0.5)
    assert other["n"] == 1 and other["excluded"] == 1 and other["std"] is None
    assert {run["id"]: run["params"] for run in sweep["runs"]}["r2"] == {"lr": 0.01, "seed": 0}

    status, by_loss = get(opener, sweep_url(server, "ada", metric="loss"))
    assert status == 200 and by_loss["goal"] == "min" and by_loss["best_run"] == "r1"  # a loss: lower is better
    status, by_min = get(opener, sweep_url(server, "ada", metric="acc", goal="min"))
    assert by_min["best_run"] == "r2" and by_min["results"][0]["config"]["lr"] == 0.01
    status, problem = get(opener, sweep_url(server, "ada", metric="nope"))
    assert status == 400 and "metric='nope'" in problem["detail"] and "acc, loss" in problem["detail"]
    assert get(opener, sweep_url(server, "ada", group="missing"))[0] == 404

    other = signed_in(server, bob)  # another entity's sweep does not exist for bob
    assert get(other, sweep_url(server, "ada")) == (404, {"detail": "no sweep 'g' in ada/sweeps"})
    assert get(urllib.request.build_opener(), sweep_url(server, "ada"))[0] == 401


def test_series_by_a_declared_step_metric_and_only_after_a_step(server):
    ada = server.user("ada")
    rule = {"_event": "metric", "name": "loss", "summary": ["min"], "goal": None, "step_metric": "epoch"}
    rows = [
        {
            "_step": step,
            "_timestamp": 100.0 + step,
            "loss": 1.0 / (step + 1),
            **({"epoch": step // 4} if step % 4 == 0 else {}),
        }
        for step in range(20)
    ]
    post(server, ada, "ada", "live", [rule, *rows], run={"name": "live"})
    opener = signed_in(server, ada)
    status, keys = get(opener, f"{server.url}/api/ui/keys?run=ada/sweeps/live")
    assert status == 200 and keys == {"keys": ["epoch", "loss"], "step_metrics": ["epoch"]}
    base = f"{server.url}/api/ui/series?key=loss&run=ada/sweeps/live"
    status, answer = get(opener, base + "&x=metric:epoch")
    (series,) = answer["series"]
    # each step takes the epoch logged at it or last before it
    assert status == 200 and series["x"] == [step // 4 for step in range(20)] and series["step"] == 19
    status, answer = get(opener, base + "&since=15&x=relative")
    (series,) = answer["series"]
    assert series["count"] == 4 and series["x"] == [16.0, 17.0, 18.0, 19.0] and series["step"] == 19
    status, answer = get(opener, base + "&since=19")
    assert answer["series"][0]["count"] == 0 and answer["series"][0]["step"] == 19  # nothing new
    status, problem = get(opener, base + "&since=1&since=2")
    assert status == 400 and "since: 2 value(s) for 1 run(s)" in problem["detail"]
