"""Renders a bench JSON result as the Markdown page bench/RESULTS.md (date, machine, versions, table).

python -m bench.markdown bench/results.json > bench/RESULTS.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import footer, table_rows


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "unknown"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    header, rows = table_rows(results)
    versions = ", ".join(
        f"{name} {info['version']}" if info["available"] else f"{name} (not installed: {info['reason']})"
        for name, info in results["tools"].items()
    )
    lines = [
        "# Benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['platform']}, {meta['cpus']} CPUs, {_memory_gib()} memory, Python {meta['python']}",
        f"- tools: {versions}",
        f"- command: `python -m bench {' '.join(meta['argv'])}` (took {meta['elapsed_s']} s)",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("\n", "<br>").replace("|", "\\|") for cell in row) + " |")
    lines += ["", *(f"- {line}" for line in footer(results))]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(json.loads(Path(sys.argv[1]).read_text())))
