#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the test suite.
# Extra arguments go to pytest (e.g. ./test.sh -k upload).
set -euo pipefail
cd "$(dirname "$0")"
scripts/system-deps.sh
scripts/install.sh dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
# The Next.js example: its packages, lint, type-check and build (its browser test is in pytest).
scripts/nextjs.sh
.venv/bin/python -m pytest "$@"
# Once more on a throwaway PostgreSQL server: the tests that use a database, browser tests aside.
scripts/with-postgres.sh .venv/bin/python -m pytest --ignore-glob='tests/webapp/test_ui*.py' "$@"
