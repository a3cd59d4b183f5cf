#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (Playwright drives it through
# executable_path=/usr/bin/chromium; `playwright install` is never used: it downloads from the network).
# Idempotent: does nothing when /usr/bin/chromium is there. Exits non-zero when it cannot install it.
set -euo pipefail
BROWSER=/usr/bin/chromium
if [ -x "$BROWSER" ]; then
    echo "browser.sh: $BROWSER is installed ($("$BROWSER" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: no apt-get here; install chromium at $BROWSER yourself" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "browser.sh: not root and no sudo; cannot install chromium" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation
if [ ! -x "$BROWSER" ]; then
    echo "browser.sh: chromium installed but $BROWSER is missing" >&2
    exit 1
fi
echo "browser.sh: installed $("$BROWSER" --version 2>/dev/null || echo chromium)"
