#!/usr/bin/env bash
# Regenerate docs/report.png (the README's screenshot) from the current report of
# sample_traces/, in headless Chromium, with the browser test that checks that page.
# TRACELENS_SCREENSHOT_DIR=DIR also keeps the other views the browser tests take (both widths,
# dark mode, print, a node's example traces).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-/work/main/.venv/bin/python}"
TRACELENS_UPDATE_SCREENSHOT=1 PYTHONPATH="$PWD" "$python" -m pytest -q -p no:cacheprovider \
  tests/report/test_browser.py -k screenshot
ls -l docs/report.png
