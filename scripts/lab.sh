#!/usr/bin/env bash
# Opens the course in JupyterLab with the bertlab tslab kernel (set-up installs JupyterLab, pinned, into .venv).
# Extra arguments go to `jupyter lab` (test/jupyterlab.test.ts passes --no-browser, a port and a token);
# BERTLAB_LAB_ROOT serves another folder holding notebooks/ (the test serves copies; kernels still run here).
set -euo pipefail
cd "$(dirname "$0")/.."
{ [ -x .venv/bin/jupyter ] && cmp -s scripts/requirements-jupyter.txt .venv/.bertlab-jupyter.txt; } || bash scripts/setup.sh
export JUPYTER_PATH="$PWD/.venv/share/jupyter" PATH="$PWD/node_modules/.bin:$PATH"
root_flag=(); [ "$(id -u)" -eq 0 ] && root_flag=(--allow-root)   # containers often run as root
root=${BERTLAB_LAB_ROOT:-$PWD}
exec .venv/bin/jupyter lab "${root_flag[@]}" --notebook-dir="$root" "$root/notebooks/01_eda.ipynb" "$@"
