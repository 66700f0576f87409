#!/usr/bin/env bash
# Set up the machine (apt + pip) and start the milter on the embedded default policy.
# Extra arguments go to `govmilter run` (for example --socket inet:8899@127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
# sourced: leaves $PYTHON at the interpreter govmilter was installed into (maybe .venv's)
source scripts/setup.sh
exec "$PYTHON" -m govmilter run "$@"
