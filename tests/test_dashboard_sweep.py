"""The sweep page, the group band by standard deviation, step-metric x axes and live charts that fetch only new
steps: over HTTP against a real `tracker server` (SQLite and PostgreSQL), and in a real headless Chromium
against `tracker ui` on a real Hydra sweep and against a signed-in `tracker server`.

Pages are checked through their test hook (``window.__tracker``) and the DOM; screenshots are written next
to each test's files.
"""

from __future__ import annotations

import http.cookiejar
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import orjson
import pytest

from tests import test_dashboard
from tests.conftest import LiveServer, wait_for, wait_for_file
from tests.test_dashboard import TIMEOUT_MS, LocalUI, rows

chromium, page = test_dashboard.chromium, test_dashboard.page  # the browser fixtures, shared

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


def post_sweep(server: LiveServer, key: str, entity: str, **more_config: str) -> dict[str, float]:
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
            config={
                "lr": lr,
                "seed": seed,
                "epochs": 10,
                **{name: f"{value}{lr}" for name, value in more_config.items()},
            },
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


def test_the_sweep_modules_examples_hold():
    import doctest

    from server import sweep

    results = doctest.testmod(sweep, verbose=False)
    assert results.attempted >= 3 and results.failed == 0


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


def panel(page, key: str) -> dict:
    return page.evaluate(f"() => window.__tracker.panels[{key!r}] || null") or {}


@pytest.mark.browser
def test_a_hydra_sweep_is_in_the_table_its_page_marks_the_best_run_and_its_groups_draw_std_bands(app, tmp_path, page):
    app("-m", "lr=0.1,0.01", "seed=0,1", "epochs=5")
    runs = app.runs()
    (group,) = {run.group for run in runs}
    best = min(runs, key=lambda run: run.summary["val_loss"])
    served = LocalUI(app.store, tmp_path / "ui.log")
    try:
        page.goto(served.url)
        wait_for(lambda: rows(page) == 4, "the sweep's four runs in the table", timeout=60)
        page.locator(".row a", has_text=group).first.click()  # the group cell opens the sweep page
        hook = "() => window.__tracker.sweep || {}"
        wait_for(lambda: page.evaluate(hook).get("best") == best.id, "the sweep page to mark the best run", 60)
        shown = page.evaluate(hook)
        assert (shown["metric"], shown["goal"], shown["params"]) == ("val_loss", "min", ["lr", "seed"])
        assert shown["rows"] == 4 and shown["lines"] == 4  # one line per run in the parallel coordinates
        assert page.locator("table.sweep-runs tr.best").count() == 1
        assert page.locator(f"table.sweep-runs tr.best[data-run='{best.id}'] .best-mark").count() == 1
        assert page.locator("table.sweep-results tbody tr").count() == 2  # one per lr, each over two seeds
        assert page.locator(".states [data-state='finished']").inner_text() == "4 finished"
        assert page.locator("svg path.line.best").get_attribute("data-run") == best.id
        assert "#/sweep/local/hydra-demo/" in page.url
        page.screenshot(path=str(tmp_path / "sweep.png"), full_page=True)

        by_train = min(runs, key=lambda run: run.summary["train_loss"])
        page.select_option("#sweep-metric", "train_loss")
        wait_for(lambda: page.evaluate(hook).get("metric") == "train_loss", "the metric to change", 60)
        assert page.evaluate(hook)["best"] == by_train.id and "metric=train_loss" in page.url
        page.reload()  # the URL holds the view
        wait_for(lambda: page.evaluate(hook).get("metric") == "train_loss", "the same view after a reload", 60)

        page.get_by_text("runs of this group").click()
        wait_for(lambda: rows(page) == 4, "the table, filtered by the group", timeout=60)
        sweep_hash = "#/sweep/local/hydra-demo/" + urllib.parse.quote(group, safe="")
        assert page.locator("a.sweep-link").is_visible()  # the group filter links its sweep page too
        assert page.locator("a.sweep-link").get_attribute("href") == sweep_hash
        for run in runs:
            page.get_by_label(f"select {run.name}").check()
        page.fill("#f-group-by", "config.lr")
        page.press("#f-group-by", "Enter")
        lines = ["config.lr=0.01 (2)", "config.lr=0.1 (2)"]
        wait_for(lambda: sorted(panel(page, "val_loss").get("series", [])) == lines, "a line per lr", 60)
        wait_for(lambda: panel(page, "val_loss")["bands"] == 2, "a min-max band per lr", 60)
        spread = panel(page, "val_loss")["widths"]
        page.select_option("#f-band", "std")
        wait_for(lambda: panel(page, "val_loss").get("band") == "std", "the standard deviation band", 60)
        drawn = panel(page, "val_loss")
        assert drawn["bands"] == 2 and "band=std" in page.url
        # two seeds a and b: mean +- sample std spans sqrt(2)|a - b|, their min-max |a - b|
        ratios = [std / minmax for std, minmax in zip(drawn["widths"], spread, strict=True)]
        assert ratios == pytest.approx([2**0.5] * 2)
        page.screenshot(path=str(tmp_path / "charts-std-band.png"), full_page=True)
        assert page.dialogs == []
    finally:
        served.stop()


@pytest.mark.browser
def test_a_running_runs_chart_grows_by_asking_only_for_new_steps_and_keeps_its_zoom(store, tmp_path, page):
    go, done = tmp_path / "go", tmp_path / "done"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import os, time, tracker
run = tracker.init(dir={str(store)!r}, project="demo", name="live-run")
for step in range(40):
    run.log({{"loss": 1.0 / (step + 1)}})
open({str(tmp_path / "started")!r}, "w").close()
while not os.path.exists({str(go)!r}):
    time.sleep(0.05)
for step in range(40, 80):
    run.log({{"loss": 1.0 / (step + 1)}})
while not os.path.exists({str(done)!r}):
    time.sleep(0.05)
run.finish()
""",
        ],
    )
    try:
        wait_for_file(tmp_path / "started")
        served = LocalUI(store, tmp_path / "ui.log")
        try:
            page.goto(served.url)
            page.get_by_label("select live-run").check()
            wait_for(lambda: panel(page, "loss").get("points") == [40], "the first forty points", timeout=60)
            wait_for(lambda: panel(page, "loss")["xRange"] is not None, "the chart drawn", timeout=60)
            assert page.locator(".row .state").inner_text() == "running"
            whole = panel(page, "loss")["xRange"]
            box = page.locator("figure[data-metric='loss'] .u-over").bounding_box()
            middle = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] * 0.25, middle)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.6, middle, steps=5)
            page.mouse.up()
            # zoomed, and re-fetched for the zoomed range (bucketed anew): fewer points, all inside it
            wait_for(lambda: panel(page, "loss")["points"][0] < 40, "the zoom", timeout=60)
            zoomed = panel(page, "loss")["xRange"]
            assert whole[0] < zoomed[0] < zoomed[1] < whole[1]
            asked: list[dict[str, list[str]]] = []
            page.on(
                "request",
                lambda request: (
                    "/api/ui/series" in request.url
                    and asked.append(urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query))
                ),
            )
            go.touch()
            wait_for(lambda: panel(page, "loss")["lastX"] == [79], "the new steps without a reload", timeout=60)
            assert panel(page, "loss")["xRange"] == zoomed  # the user's zoom stays
            assert asked and all(query.get("since") for query in asked)  # only new steps were asked for
            assert min(int(query["since"][0]) for query in asked) == 39  # after the last step it had
            page.screenshot(path=str(tmp_path / "live-zoomed.png"), full_page=True)
            done.touch()
            wait_for(lambda: page.locator(".row .state").inner_text() == "finished", "the row to say finished", 60)
        finally:
            served.stop()
    finally:
        done.touch()
        go.touch()
        child.wait(timeout=120)


@pytest.mark.browser
def test_the_x_axis_offers_the_step_metrics_runs_declared(store, tmp_path, page):
    code = f"""
import tracker
run = tracker.init(dir={str(store)!r}, project="demo", name="epochs")
run.define_metric("loss", step_metric="epoch")
for step in range(20):
    run.log({{"epoch": step // 5, "loss": 1.0 / (step + 1)}})
run.finish()
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    served = LocalUI(store, tmp_path / "ui.log")
    try:
        page.goto(served.url)
        page.get_by_label("select epochs").check()
        page.locator("#f-x option[value='metric:epoch']").wait_for(state="attached", timeout=TIMEOUT_MS)
        wait_for(lambda: panel(page, "loss").get("lastX") == [19], "the chart by step", timeout=60)
        page.select_option("#f-x", "metric:epoch")
        wait_for(lambda: panel(page, "loss").get("lastX") == [3], "the chart by epoch", timeout=60)
        assert panel(page, "loss")["points"] == [20] and "x=metric%3Aepoch" in page.url
    finally:
        served.stop()


@pytest.mark.browser
def test_the_team_servers_sweep_page_is_signed_in_and_shows_no_other_entitys_sweep(tmp_path, page):
    server = LiveServer(tmp_path / "server", None).start()
    try:
        ada, bob = server.user("ada"), server.user("bob")
        post_sweep(server, ada, "ada", optimizer="adam-")  # a string parameter: a categorical axis
        post_sweep(server, bob, "bob")
        page.goto(server.url + "/#/sweep/ada/sweeps/g")
        page.locator("#key").wait_for(timeout=TIMEOUT_MS)
        assert page.locator("table.sweep-runs").count() == 0  # nothing before signing in
        page.fill("#key", ada)
        page.get_by_role("button", name="Sign in").click()
        hook = "() => (window.__tracker.sweep || {}).best"
        wait_for(lambda: page.evaluate(hook) == "r1", "ada's sweep with its best run marked", 60)
        assert page.locator("table.sweep-runs tr.best[data-run='r1']").count() == 1
        assert page.locator(".states [data-state='failed']").inner_text() == "1 failed"
        assert page.evaluate("() => window.__tracker.sweep.params") == ["lr", "optimizer", "seed"]
        ticks = page.locator("svg text.tick").all_text_contents()
        assert "adam-0.1" in ticks and "adam-0.01" in ticks  # each category named on its axis
        page.screenshot(path=str(tmp_path / "sweep-server.png"), full_page=True)
        page.goto(server.url + "/#/sweep/bob/sweeps/g")
        page.get_by_text("no sweep 'g' in bob/sweeps").wait_for(timeout=TIMEOUT_MS)
        assert page.locator("table.sweep-runs").count() == 0
    finally:
        server.stop()
