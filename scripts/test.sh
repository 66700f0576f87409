#!/usr/bin/env bash
# Set up the machine (apt + pip) and run every check: ruff, mypy, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# sourced: leaves $PYTHON at the interpreter govmilter was installed into (maybe .venv's)
source scripts/setup.sh
echo "== ruff"; "$PYTHON" -m ruff check govmilter tests
echo "== mypy"; "$PYTHON" -m mypy
echo "== pytest"; "$PYTHON" -m pytest "$@"
