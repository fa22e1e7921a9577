#!/usr/bin/env bash
# Install Debian's Chromium for the console's browser tests (tests/console/test_console_browser.py).
# Idempotent: does nothing when /usr/bin/chromium exists. Playwright drives this browser through
# its executable path (KOPPEL_CHROMIUM, default /usr/bin/chromium); it never downloads its own.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-chromium: not root; the browser tests will skip without /usr/bin/chromium" >&2
        exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null | head -1 || true
