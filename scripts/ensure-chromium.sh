#!/usr/bin/env bash
# make test: the browser test (tests/ui) needs Debian's headless Chromium at /usr/bin/chromium.
# Installs it with apt-get when it is missing (as root, as CI runs); does nothing otherwise.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "ensure-chromium: /usr/bin/chromium is missing; run as root, or: sudo apt-get install chromium" >&2
    exit 1
fi
echo "ensure-chromium: installing Debian's chromium (once)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/chromium --version
