#!/usr/bin/env bash
# Longer fuzzing of the decoder front and metadata parsers (tests/media/test_fuzz.py):
#   scripts/fuzz.sh [EXAMPLES_PER_TARGET]   (default 5000; CI runs 40)
# Hypothesis explores new inputs each run (not derandomised above 40 examples) and
# keeps failing examples in .hypothesis/ so a rerun replays them first.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_FUZZ_EXAMPLES="${1:-5000}"
start=$(date +%s)
.venv/bin/pytest tests/media/test_fuzz.py -q -p no:randomly "${@:2}"
echo "fuzzed ${TESSERA_FUZZ_EXAMPLES} examples per target in $(( $(date +%s) - start )) s"
