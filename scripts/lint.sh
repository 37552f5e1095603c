#!/usr/bin/env bash
# The architecture and lint checks: import-linter's contracts (pyproject.toml: which package may import which)
# and ruff's rules. Run by .ci/run before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/lint-imports ] && [ -x .venv/bin/ruff ] || bash scripts/setup.sh --no-demo
.venv/bin/lint-imports
.venv/bin/ruff check .
