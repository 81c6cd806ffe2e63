#!/usr/bin/env bash
# A real headless browser for the browser tests: Debian's chromium (Playwright's own downloads are not used).
# Installs it with apt when missing (needs root); prints the executable's path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "browser.sh: chromium is missing and installing it needs root (apt-get install chromium)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
command -v chromium
