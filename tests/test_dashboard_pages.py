"""The run page and the compare view in a real headless Chromium, against `tracker ui` and `tracker server`.

Runs are made by real init() processes (an image, a table and a histogram logged; one run preempted and
resumed); pages are checked through their DOM (and the charts through ``window.__tracker``), and
screenshots are written next to the test's files.
"""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests import test_dashboard as dashboard
from tests.conftest import LiveServer, run_python, wait_for, wait_for_file

pytestmark = pytest.mark.browser
XSS_NAME = dashboard.XSS_NAME
TIMEOUT_MS = dashboard.TIMEOUT_MS
chromium = dashboard.chromium  # the same browser and page fixtures as the workspace's tests
page = dashboard.page

MAKE_RUNS = """
import numpy, tracker
settings = {extra}
run = tracker.init(project="demo", name="alpha", id="alpha1", group="g1", job_type="train", tags=["a"],
                   config={{"lr": 0.1, "optimizer": {{"name": "adam", "eps": 1e-8}}, "only_alpha": 1}}, **settings)
for step in range(20):
    row = {{"loss": 1.0 / (step + 1), "acc": step / 20}}
    if step in (5, 10):
        row["sample"] = tracker.Image(numpy.full((8, 12, 3), step * 20, dtype=numpy.uint8), caption=f"step {{step}}")
    if step == 10:
        row["predictions"] = tracker.Table(columns=["epoch", "label"], data=[[1, {xss!r}], [2, "cat"]])
        row["weights"] = tracker.Histogram([0.1, 0.2, 0.2, 0.5, 0.9], num_bins=4)
    run.log(row)
run.summary["best"] = 0.75
run.mark_preempting()
run.finish()
run = tracker.init(project="demo", id="alpha1", resume="must", **settings)
for step in range(20, 25):
    run.log({{"loss": 1.0 / (step + 1)}})
run.finish()
other = tracker.init(project="demo", name={xss!r}, id="xss1", group="g2", tags=["b"],
                     config={{"lr": 0.2, "optimizer": {{"name": "adam", "eps": 1e-8}}, {xss!r}: {xss!r}}}, **settings)
for step in range(20):
    other.log({{"loss": 2.0 / (step + 1), "acc": step / 40}})
other.finish()
"""


FACTS = "(css) => Object.fromEntries([...document.querySelectorAll(css)].map(d => [d.dataset.fact, d.textContent]))"


def make_runs(extra: str, env: dict[str, str] | None = None) -> None:
    run_python(MAKE_RUNS.format(extra=extra, xss=XSS_NAME), env=env, timeout=120)


def visible_keys(page: Any, table: str) -> list[str]:
    return page.eval_on_selector_all(f"#{table} tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.key)")


def check_alpha_page(page: Any, shots: Path, name: str) -> None:
    """The run page of alpha, reached however: identity, history, media, config, metadata, files, log."""
    page.locator("main.run-page[data-run$='/alpha1'][data-ready='1']").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".run-name").inner_text() == "alpha"
    assert page.locator(".run-title .state").inner_text() == "finished"
    assert "state-finished" in page.locator(".run-title .state").get_attribute("class")
    facts = page.evaluate(FACTS, ".identity dd")
    assert facts["id"] == "alpha1" and facts["group"] == "g1" and facts["job type"] == "train" and facts["tags"] == "a"
    labels = page.eval_on_selector_all("#state-history li .state", "items => items.map(i => i.textContent)")
    assert labels == ["started", "preempting", "preempted", "resumed", "finished"]
    # media: the image is served and decoded, stepping back shows the earlier one; the table is an HTML table
    image = page.locator("figure[data-media='sample'] img")
    wait_for(lambda: image.evaluate("i => i.complete && i.naturalWidth") == 12, "the logged image to load", 60)
    assert "step 10" in page.locator("figure[data-media='sample'] figcaption").first.inner_text()
    page.get_by_label("step of sample").fill("0")
    page.get_by_text("step 5", exact=True).first.wait_for(timeout=TIMEOUT_MS)
    cells = page.locator("figure[data-media='predictions'] table td")
    wait_for(lambda: cells.count() == 4, "the logged table's cells", 60)
    assert cells.all_inner_texts() == ["1", XSS_NAME, "2", "cat"]
    assert page.locator("figure[data-media='weights'] canvas").get_attribute("data-bins") == "4"
    # config: flattened, and the filter keeps the matching keys and goes into the URL
    assert visible_keys(page, "config-table") == ["lr", "only_alpha", "optimizer.eps", "optimizer.name"]
    page.fill("#config-filter", "adam")
    wait_for(lambda: visible_keys(page, "config-table") == ["optimizer.name"], "the config filter")
    assert "cfg=adam" in page.url and "#/run/" in page.url
    assert visible_keys(page, "summary-table") == ["acc", "best", "loss", "predictions", "sample", "weights"]
    metadata = page.evaluate(FACTS, "#metadata dd")
    assert socket.gethostname() in metadata["host"] and platform.python_version() in metadata["python"]
    assert metadata["command"].startswith("python -c")
    files = page.eval_on_selector_all("#files tr[data-file]", "rows => rows.map(r => r.dataset.file)")
    assert "logs/debug.log" in files and sum(name.startswith("media/") for name in files) == 3  # 2 images, 1 table
    link = page.locator("#files tr[data-file='logs/debug.log'] a")
    answer = page.request.get(page.url.split("#")[0].rstrip("/") + link.get_attribute("href"))
    assert answer.ok and "attachment" in answer.headers["content-disposition"] and b"run.finished" in answer.body()
    events = page.eval_on_selector_all("#debug-log .event", "rows => rows.map(r => r.dataset.event)")
    assert events.count("identity.decided") == 2 and events[-1] == "run.finished"
    wait_for(lambda: "loss" in page.evaluate("() => window.__tracker.panels"), "the run's charts")
    drawn = page.evaluate("() => window.__tracker.panels")
    assert drawn["loss"]["series"] == ["alpha"] and drawn["loss"]["points"] == [25]
    page.screenshot(path=str(shots / name), full_page=True)
    assert page.dialogs == []


def check_xss_page(page: Any) -> None:
    """A run named like HTML, with such a config key, shows as text; no element of its making exists."""
    page.locator("main.run-page[data-run$='/xss1'][data-ready='1']").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".run-name").inner_text() == XSS_NAME
    key = page.locator("#config-table th", has_text=XSS_NAME)
    assert key.inner_text() == XSS_NAME and key.evaluate("k => k.parentElement.dataset.key") == XSS_NAME
    assert page.locator("img[src='x']").count() == 0 and page.dialogs == []


def check_compare(page: Any, shots: Path) -> None:
    """Compare alpha and the XSS-named run: differences highlighted, summaries side by side, charts overlaid."""
    page.locator("main.compare-page[data-ready='1']").wait_for(timeout=TIMEOUT_MS)
    kinds = page.eval_on_selector_all(
        "#compare-config tbody tr", "rows => Object.fromEntries(rows.map(r => [r.dataset.key, r.className]))"
    )
    assert kinds == {
        "lr": "differs",
        "only_alpha": "partial",
        "optimizer.eps": "same",
        "optimizer.name": "same",
        XSS_NAME: "partial",
    }
    headers = page.eval_on_selector_all("#compare-config thead th", "cells => cells.map(c => c.textContent)")
    assert headers == ["key", "alpha", XSS_NAME]
    row = page.eval_on_selector_all("#compare-summary tr[data-key='best'] td", "cells => cells.map(c => c.textContent)")
    assert row == ["0.75", "—"]
    overlaid = "() => (window.__tracker.panels.loss || {series: []}).series.slice().sort()"
    wait_for(lambda: page.evaluate(overlaid) == sorted(["alpha", XSS_NAME]), "both runs' loss overlaid", 60)
    page.check("#only-differences")
    differing = sorted(["lr", "only_alpha", XSS_NAME])
    wait_for(lambda: sorted(visible_keys(page, "compare-config")) == differing, "only the differences", 30)
    assert "diff=1" in page.url and "#/compare?" in page.url
    assert page.locator("img[src='x']").count() == 0 and page.dialogs == []
    page.screenshot(path=str(shots / "compare.png"), full_page=True)


def test_the_run_page_and_compare_view_of_the_local_store(store, tmp_path, page):
    make_runs(f"{{'dir': {str(store)!r}}}", env={"SLURM_JOB_ID": "4242", "SLURMD_NODENAME": "node7"})
    served = dashboard.LocalUI(store, tmp_path / "ui.log")
    try:
        page.goto(served.url)
        page.get_by_role("link", name="alpha", exact=True).click()  # the table's row links to the run's page
        check_alpha_page(page, tmp_path, "run-page.png")
        assert page.evaluate(FACTS, "#metadata dd")["Slurm job"] == "4242 on node7"
        page.reload()  # the URL holds the view: the page comes back filtered
        page.locator("main.run-page[data-ready='1']").wait_for(timeout=TIMEOUT_MS)
        assert page.input_value("#config-filter") == "adam" and visible_keys(page, "config-table") == ["optimizer.name"]
        page.goto(served.url + "#/run/local/demo/xss1")
        check_xss_page(page)
        page.goto(served.url)
        assert page.locator("#compare").is_disabled()
        for name in ("alpha", XSS_NAME):
            page.get_by_label(f"select {name}").check()
        page.locator("#compare").click()
        check_compare(page, tmp_path)
        page.get_by_role("link", name="alpha", exact=True).click()  # from the comparison to a run's page
        page.locator("main.run-page[data-ready='1']").wait_for(timeout=TIMEOUT_MS)
        page.goto(served.url + "#/run/local/demo/nosuchrun")
        page.get_by_role("alert").wait_for(timeout=TIMEOUT_MS)
        assert "no run local/demo/nosuchrun" in page.get_by_role("alert").inner_text()
    finally:
        served.stop()


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_run_page_and_compare_view_on_the_server_show_only_the_keys_entity(tmp_path, page):
    server = LiveServer(tmp_path / "server", None).start()
    try:
        ada, bob = server.user("ada"), server.user("bob")
        online = "{'mode': 'online'}"
        make_runs(online, env={"TRACKER_BASE_URL": server.url, "TRACKER_API_KEY": ada})
        run_python(
            """
            import tracker
            run = tracker.init(project="demo", id="bobrun", name="bob-secret", mode="online", config={"k": 1})
            run.log({"loss": 1.0})
            run.finish()
            """,
            env={"TRACKER_BASE_URL": server.url, "TRACKER_API_KEY": bob},
        )
        assert get_status(f"{server.url}/api/ui/run/ada/demo/alpha1") == 401  # signed out: nothing
        page.goto(server.url + "/#/run/ada/demo/alpha1")
        page.fill("#key", ada)
        page.get_by_role("button", name="Sign in").click()
        check_alpha_page(page, tmp_path, "run-page-server.png")  # the link survives signing in
        for path in ("", "/media", "/file/logs/debug.log"):  # another entity's run is not there at all
            status = page.evaluate(f"() => fetch('/api/ui/run/bob/demo/bobrun{path}').then(r => r.status)")
            assert status == 404
        page.goto(server.url + "/#/run/bob/demo/bobrun")
        page.get_by_role("alert").wait_for(timeout=TIMEOUT_MS)
        assert "bob-secret" not in page.content()
        page.goto(server.url + "/#/compare?sel=ada%2Fdemo%2Falpha1&sel=ada%2Fdemo%2Fxss1")
        check_compare(page, tmp_path)
        page.goto(server.url + "/#/run/ada/demo/xss1")
        check_xss_page(page)
    finally:
        server.stop()


def test_a_running_runs_page_follows_it_to_its_end_without_a_reload(store, tmp_path, page):
    go = tmp_path / "go"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import os, time, tracker
run = tracker.init(dir={str(store)!r}, project="demo", id="live1", name="live-run")
run.log({{"loss": 1.0}})
open({str(tmp_path / "started")!r}, "w").close()
while not os.path.exists({str(go)!r}):
    time.sleep(0.05)
run.summary["verdict"] = "done"
run.finish()
""",
        ],
    )
    try:
        wait_for_file(tmp_path / "started")
        served = dashboard.LocalUI(store, tmp_path / "ui.log")
        try:
            page.goto(served.url + "#/run/local/demo/live1")
            page.locator("main.run-page[data-ready='1']").wait_for(timeout=TIMEOUT_MS)
            assert page.locator(".run-title .state").inner_text() == "running"
            labels = "() => [...document.querySelectorAll('#state-history li .state')].map(i => i.textContent)"
            assert page.evaluate(labels) == ["started"]
            page.evaluate("() => { window.__sameDocument = true; }")
            go.touch()
            wait_for(lambda: page.evaluate(labels) == ["started", "finished"], "the page to show the run finished", 60)
            assert page.locator(".run-title .state").inner_text() == "finished"
            assert visible_keys(page, "summary-table") == ["loss", "verdict"]
            assert page.evaluate("() => window.__sameDocument") is True  # no reload
        finally:
            served.stop()
    finally:
        go.touch()
        child.wait(timeout=120)
