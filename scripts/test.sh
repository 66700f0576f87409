#!/usr/bin/env bash
# Set up the machine (apt + pip) and run every check: ruff, mypy, the docs build, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# sourced: leaves $PYTHON at the interpreter govmilter was installed into (maybe .venv's)
source scripts/setup.sh
echo "== ruff"; "$PYTHON" -m ruff check govmilter tests
echo "== mypy"; "$PYTHON" -m mypy
# the documentation site (mkdocs.yml: strict, so a broken link or anchor fails), built and thrown away
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
echo "== docs"; "$PYTHON" -m mkdocs build --strict --clean --site-dir "$site"
echo "== pytest"; "$PYTHON" -m pytest "$@"
