"""The dashboard in a real headless Chromium (Debian's, through Playwright), against `tracker ui` and `tracker server`.

Runs are made by real init() processes; charts are checked through the page's test hook
(``window.__tracker``: the series each panel drew) and screenshots are written next to the test's files.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.conftest import TRACKER, LiveServer, free_port, run_python, wait_for

pytestmark = pytest.mark.browser
XSS_NAME = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no chromium (bash scripts/browser.sh installs Debian's)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("no playwright (it is in the dev extra)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: object) -> Iterator[object]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    dialogs: list[str] = []
    opened = context.new_page()
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    try:
        yield opened
    finally:
        context.close()


class LocalUI:
    """A real `tracker ui` on the store, on its own port."""

    def __init__(self, store: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            [TRACKER, "--dir", str(store), "ui", "--port", str(self.port)],
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.log = log

        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"tracker ui exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "api/health", timeout=5) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_for(up, "tracker ui to answer", timeout=120)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def make_runs(store: Path) -> None:
    run_python(
        f"""
        import tracker
        made = [("alpha", "g1", "a", 0.1), ("beta", "g1", "b", 0.2), ({XSS_NAME!r}, "g2", "b", 0.3)]
        for name, group, tag, lr in made:
            run = tracker.init(dir={str(store)!r}, project="demo", name=name, group=group, tags=[tag],
                               config={{"lr": lr}})
            for step in range(50):
                run.log({{"loss": lr / (step + 1), "acc": step * lr}})
            run.finish()
        """
    )


def rows(page: object) -> int:
    return page.locator(".row").count()  # type: ignore[attr-defined]


def test_the_local_store_shows_in_the_table_filters_and_escapes_names(store, tmp_path, page):
    make_runs(store)
    served = LocalUI(store, tmp_path / "ui.log")
    try:
        page.goto(served.url)
        page.get_by_text("alpha", exact=True).wait_for(timeout=TIMEOUT_MS)
        wait_for(lambda: rows(page) == 3, "three rows", timeout=30)
        page.get_by_text(XSS_NAME, exact=True).wait_for(timeout=TIMEOUT_MS)  # shown as text
        assert page.locator(".row img").count() == 0 and page.dialogs == []
        page.select_option("#f-group", "g1")
        wait_for(lambda: rows(page) == 2, "the group filter to leave two rows", timeout=30)
        page.select_option("#f-group", "")
        page.select_option("#f-tag", "b")
        wait_for(lambda: rows(page) == 2, "the tag filter to leave two rows", timeout=30)
        page.fill("#f-q", "bet")
        wait_for(lambda: rows(page) == 1, "the search to leave one row", timeout=30)
        assert page.locator(".row .name").inner_text() == "beta"
        page.fill("#f-q", "")
        page.select_option("#f-tag", "")
        wait_for(lambda: rows(page) == 3, "all rows back", timeout=30)
        page.locator("button.sort[data-column='name']").click()  # descending by name: the <img> name sorts first
        wait_for(lambda: page.locator(".row .name").first.inner_text() == "beta", "the sort by name", timeout=30)
        page.screenshot(path=str(tmp_path / "runs-table.png"), full_page=True)
        assert page.dialogs == []
    finally:
        served.stop()


def test_selected_runs_draw_one_series_each_in_a_panel_per_metric(store, tmp_path, page):
    make_runs(store)
    served = LocalUI(store, tmp_path / "ui.log")
    try:
        page.goto(served.url)
        page.get_by_text("alpha", exact=True).wait_for(timeout=TIMEOUT_MS)
        for name in ("alpha", "beta"):
            page.get_by_label(f"select {name}").check()
        page.locator("figure[data-metric='loss'] canvas").wait_for(timeout=TIMEOUT_MS)
        both = "() => (window.__tracker.panels.loss?.series || []).length === 2"
        wait_for(lambda: page.evaluate(both), "both runs drawn (alpha's own draw may come first)", timeout=30)
        drawn = page.evaluate("() => window.__tracker.panels")
        assert sorted(drawn) == ["acc", "loss"]
        assert sorted(drawn["loss"]["series"]) == ["alpha", "beta"] and drawn["loss"]["points"] == [50, 50]
        page.fill("#f-metrics", "^loss$")
        page.press("#f-metrics", "Enter")
        wait_for(lambda: sorted(page.evaluate("() => Object.keys(window.__tracker.panels)")) == ["loss"], "the regex")
        assert "sel=" in page.url and "metrics=" in page.url  # the view is in the URL
        page.get_by_label(f"select {XSS_NAME}").check()
        loss = "() => window.__tracker.panels.loss.series"
        wait_for(lambda: len(page.evaluate(loss)) == 3, "the third run's line", timeout=30)
        page.fill("#f-group-by", "group")
        page.press("#f-group-by", "Enter")
        wait_for(lambda: sorted(page.evaluate(loss)) == ["group=g1 (2)", "group=g2 (1)"], "one line per group", 30)
        assert "groupBy=group" in page.url and page.dialogs == []
        page.screenshot(path=str(tmp_path / "charts.png"), full_page=True)
    finally:
        served.stop()


def post_run(server: LiveServer, key: str, entity: str, name: str) -> None:
    records = [{"_step": step, "_timestamp": 1.0 + step, "loss": 1.0 / (step + 1)} for step in range(5)]
    body = orjson.dumps({"journal_id": "j", "offset": 0, "end": 5, "records": records, "run": {"name": name}})
    request = urllib.request.Request(
        f"{server.url}/api/runs/{entity}/team-project/r1/batches",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def test_the_team_server_signs_in_with_a_key_and_refuses_a_wrong_one(tmp_path, page):
    server = LiveServer(tmp_path / "server", None).start()
    try:
        key = server.user("ada")
        post_run(server, key, "ada", "served-run")
        page.goto(server.url + "/")
        page.locator("#key").wait_for(timeout=TIMEOUT_MS)
        assert page.locator(".row").count() == 0  # a signed-out visitor sees nothing of any project
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/ui/runs", timeout=30)
        assert refused.value.code == 401
        page.fill("#key", key[:-4] + "xxxx")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("this API key is not valid").wait_for(timeout=TIMEOUT_MS)
        page.fill("#key", key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("served-run", exact=True).wait_for(timeout=TIMEOUT_MS)
        assert key not in page.url
        (session,) = [cookie for cookie in page.context.cookies() if cookie["name"] == "tracker_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict" and key not in session["value"]
        page.screenshot(path=str(tmp_path / "signed-in.png"), full_page=True)
        # signing out without the CSRF token is refused; the page's own button carries it
        status = page.evaluate("() => fetch('/api/ui/session', {method: 'DELETE'}).then(r => r.status)")
        assert status == 403
        page.get_by_role("button", name="Sign out").click()
        page.locator("#key").wait_for(timeout=TIMEOUT_MS)
        assert page.evaluate("() => fetch('/api/ui/runs').then(r => r.status)") == 401
    finally:
        server.stop()
