#!/usr/bin/env bash
# The whole test suite on a fresh machine, from the repository root: Debian's Chromium for the
# web-UI test (Playwright never downloads a browser of its own) when it is missing, a virtual
# environment with the package and its `test` extra, then pytest (extra arguments go to pytest).
# ../shared (data and model files) must sit beside the checkout, or set FACETRUST_SHARED.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    if ! command -v apt-get >/dev/null; then
        echo "error: /usr/bin/chromium is missing and there is no apt-get to install it; install Chromium there" >&2
        exit 1
    fi
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
    "${as_root[@]}" apt-get update -q >/dev/null
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
python3 -m venv .venv
. .venv/bin/activate
pip install -q -e '.[test]'
python -m pytest -q "$@"
