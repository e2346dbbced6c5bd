#!/usr/bin/env bash
# The test suite, as CI runs it (`npm test`): set-up (idempotent), type check, format and lint, the unit and reference tests
# on the default (fastest) backend, the model/optimizer/training tests again on wasm, then every notebook
# top to bottom on the tslab kernel in the fast setting (test/notebooks.test.ts, part of the first run).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

# The Python reference (torch CPU + transformers) checks that saved models load in Python.
if ! cmp -s scripts/requirements-reference.txt .venv/.bertlab-reference.txt; then
  echo "[test] installing the Python reference (torch CPU, transformers) into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-reference.txt &&
    cp scripts/requirements-reference.txt .venv/.bertlab-reference.txt || exit 1
fi

echo "[test] type check, format (dprint, 120 columns) and lint (typescript-eslint's recommended rules)"
node_modules/.bin/tsc -p . || exit 1
node_modules/.bin/tsx scripts/format.ts --check || exit 1
node_modules/.bin/eslint lib scripts test bin --max-warnings 0 || exit 1

logs=$(mktemp -d)
echo "[test] all tests on the default backend"
node --import tsx --test --test-reporter=spec test/*.test.ts 2>&1 | tee "$logs/default.log"
default_rc=${PIPESTATUS[0]}
echo "[test] backend-sensitive tests on wasm"
BERTLAB_BACKEND=wasm node --import tsx --test --test-reporter=spec test/*.wasm.test.ts 2>&1 | tee "$logs/wasm.log"
wasm_rc=${PIPESTATUS[0]}

count() { grep -h -E "^ℹ $1 [0-9]+" "$logs"/*.log | awk '{s += $3} END {print s + 0}'; }
passed=$(count pass); failed=$(count fail); skipped=$(count skipped)
echo
echo "default backend exit $default_rc, wasm exit $wasm_rc"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$default_rc" -eq 0 ] && [ "$wasm_rc" -eq 0 ] && [ "$failed" -eq 0 ]
