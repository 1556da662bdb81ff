#!/usr/bin/env bash
# README command 2: set up (idempotent), lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check pipeline tokens tests fixtures bench
.venv/bin/mypy pipeline tokens tests fixtures bench
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
