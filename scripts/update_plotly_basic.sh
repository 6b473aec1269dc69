#!/usr/bin/env bash
# Refresh tracelens/report/vendor/plotly-basic.min.js: plotly.js's "basic" bundle (scatter, bar
# and pie, every trace type the report draws), of the plotly.js version the installed plotly
# package embeds. The report falls back to plotly's full bundle (4x larger) when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-/work/main/.venv/bin/python}"
version="$("$python" -c 'from plotly.offline import get_plotlyjs_version; print(get_plotlyjs_version())')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "plotly.js-basic-dist-min@$version" >/dev/null && tar xzf ./*.tgz)
cp "$work/package/plotly-basic.min.js" tracelens/report/vendor/plotly-basic.min.js
cp "$work/package/LICENSE" tracelens/report/vendor/plotly-basic.LICENSE
echo "plotly.js basic bundle $version in tracelens/report/vendor/"
