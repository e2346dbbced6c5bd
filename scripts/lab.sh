#!/usr/bin/env bash
# Opens the course in JupyterLab with the bertlab tslab kernel (installs JupyterLab into .venv once).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/jupyter ] || bash scripts/setup.sh
.venv/bin/python -c 'import jupyterlab' 2>/dev/null || .venv/bin/python -m pip install --quiet jupyterlab
export JUPYTER_PATH="$PWD/.venv/share/jupyter" PATH="$PWD/node_modules/.bin:$PATH"
root_flag=(); [ "$(id -u)" -eq 0 ] && root_flag=(--allow-root)   # containers often run as root
exec .venv/bin/jupyter lab "${root_flag[@]}" --notebook-dir="$PWD" "notebooks/01_eda.ipynb" "$@"
