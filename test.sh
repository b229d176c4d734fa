#!/bin/sh
# The whole check, as CI runs it: install what is needed, then ruff, import-linter and pytest.
set -eu
cd "$(dirname "$0")"
sh tools/install-system-libraries.sh offscreen
if [ ! -x .venv/bin/pytest ] || [ pyproject.toml -nt .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch .venv/bin/pytest
fi
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
