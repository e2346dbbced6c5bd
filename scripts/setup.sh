#!/usr/bin/env bash
# Set-up for bertlab, idempotent: run it as often as you like; finished steps are skipped.
#   1) npm packages (install scripts off: tfjs-node's would download libtensorflow from Google)
#   2) a Python virtual environment .venv with Jupyter's headless runner (nbconvert/nbclient)
#   3) the tslab kernel registered in .venv, started at the project root
#   4) the SMILE dataset into data/
#   5) the pretrained model into models/
#   6) the fastest TensorFlow.js backend this machine can have (native, else wasm, else cpu)
#   7) a headless Chromium for the browser tests and the demo page (Debian's `chromium`, as root)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
step() { printf '\n\033[1m[setup] %s\033[0m\n' "$*"; }

PYTHON=${PYTHON:-python3}
command -v node >/dev/null || { echo "setup: Node.js 20 or newer is needed (https://nodejs.org)" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  { echo "setup: Node.js $(node --version) is too old; bertlab needs 20 or newer" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || { echo "setup: Python 3.9+ is needed for Jupyter (set PYTHON=...)" >&2; exit 1; }

# 1) npm packages: `npm ci` from the lock file, skipped when the lock file is unchanged since the last install.
step "1/7 npm packages"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.bertlab-lock.json; then
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.bertlab-lock.json
else
  echo "up to date"
fi

# 2) Python: Jupyter's headless notebook runner in .venv (the OS's Python stays untouched).
step "2/7 Python environment (.venv)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! cmp -s scripts/requirements-jupyter.txt .venv/.bertlab-jupyter.txt; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-jupyter.txt
  cp scripts/requirements-jupyter.txt .venv/.bertlab-jupyter.txt
else
  echo "up to date"
fi

# 3) The tslab kernel, registered inside .venv (so a global Jupyter set-up is not touched). It is tslab,
#    started through scripts/tslab-kernel.js at the project root: notebooks import "./lib/...".
step "3/7 tslab kernel"
KDIR=.venv/share/jupyter/kernels/tslab
mkdir -p "$KDIR"
node -e '
const [dir, root] = process.argv.slice(1);
const spec = {
  argv: [process.execPath, root + "/scripts/tslab-kernel.js", "kernel", "--config-path", "{connection_file}"],
  display_name: "TypeScript (bertlab)",
  language: "typescript",
};
require("fs").writeFileSync(dir + "/kernel.json", JSON.stringify(spec, null, 1) + "\n");
' "$KDIR" "$ROOT"
echo "kernel 'tslab' -> $KDIR/kernel.json"

# 4) and 5) Data and model (each script says where it got them).
step "4/7 SMILE dataset"
node_modules/.bin/tsx scripts/fetch-data.ts
step "5/7 pretrained model"
node_modules/.bin/tsx scripts/fetch-model.ts

# 6) The backend: native TensorFlow when it can be had, built against PyPI's TensorFlow if need be.
step "6/7 TensorFlow.js backend"
node_modules/.bin/tsx scripts/provision-backend.ts

# 7) Chromium: Playwright's own browser download is unreachable offline, so the system's browser is driven.
step "7/7 headless Chromium"
chromium_path() { node_modules/.bin/tsx -e 'import { findChromium } from "./lib/core/browser"; console.log(findChromium() ?? "")' 2>/dev/null; }
if [ -n "$(chromium_path)" ]; then
  echo "found $(chromium_path)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
    echo "setup: could not install chromium with apt-get; the browser tests will be skipped" >&2
else
  echo "setup: no Chromium found; install one (Debian: apt-get install chromium) or set BERTLAB_CHROMIUM; browser tests are skipped until then" >&2
fi

printf '\n[setup] done. Run the course: npm run course · the tests: npm test · Jupyter: npm run lab\n'
