"""The dashboard bundle committed in server/static is built from the committed web/src (it cannot drift)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
STATIC = ROOT / "server" / "static"


def source_hash() -> str:
    """The digest web/build.mjs records: sorted paths relative to web/, each path and content."""
    paths = sorted([*(path for path in (WEB / "src").rglob("*") if path.is_file()), WEB / "package.json"])
    names = sorted(path.relative_to(WEB).as_posix() for path in paths)
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        digest.update((WEB / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def test_the_committed_bundle_is_built_from_the_current_sources():
    recorded = json.loads((STATIC / "build.json").read_text())["source_sha256"]
    assert recorded == source_hash(), "server/static is older than web/src: run bash scripts/web-build.sh"


def test_the_bundle_has_its_pages_and_no_remote_resources():
    page = (STATIC / "index.html").read_text()
    assert "/static/app.js" in page and "/static/app.css" in page
    for name in ("index.html", "app.js", "app.css"):
        text = (STATIC / name).read_text()
        assert "//cdn" not in text and "https://fonts" not in text, f"{name} loads something from the network"
