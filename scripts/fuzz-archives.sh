#!/usr/bin/env bash
# Longer property-based fuzzing of the archive reader than the default suite runs.
#   scripts/fuzz-archives.sh [EXAMPLES]     (default 5000; the suite runs 40)
# Failures print the shrunk input; add it to tests/pipeline/test_hostile_archives.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_FUZZ_EXAMPLES="${1:-5000}"
exec .venv/bin/pytest tests/pipeline/test_archive_fuzz.py -q -p no:cacheprovider \
  --hypothesis-show-statistics --hypothesis-seed="${TESSERA_FUZZ_SEED:-$RANDOM}"
