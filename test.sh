#!/bin/sh
# The whole check, as CI runs it: install what is needed, then ruff, import-linter and pytest.
set -eu
cd "$(dirname "$0")"
sh tools/install-system-libraries.sh offscreen
# LibreOffice, where apt can install it, writes test files as a real third-party program would and
# checks that our exports evaluate nothing; those tests are skipped without it.
if ! command -v libreoffice >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libreoffice-calc-nogui >/dev/null) || echo "LibreOffice could not be installed; its tests will be skipped"
fi
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
