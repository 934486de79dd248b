#!/usr/bin/env bash
# Thread count and wait policy under contention: linear1000, a 64-token
# stories260K decode and one fmnist-mlp epoch, on an idle machine and with
# one competing busy process (started and stopped here), side by side, with
# the acceptance checks of docs/threads.md. REPS=N sets the repetitions
# (default 7). Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.bash
[ -x build/hwadapt ] || make build >/dev/null
[ -f ../shared/data/stories260K/stories260K.bin ] || { echo "contention.sh: ../shared/data/stories260K is missing" >&2; exit 1; }
PY=$(hwa_python json) || { echo "contention.sh: no python3" >&2; exit 1; }
HWA_CLI=build/hwadapt HWA_DATA_DIR=../shared/data exec "$PY" bench/contention.py
