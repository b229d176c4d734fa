#!/bin/sh
# Install smbcrm (first time only) and open it. Needs Python 3.11+ on Debian/Ubuntu.
#   ./run.sh                 open the shop in your user data folder (a welcome on first start)
#   ./run.sh --db demo.db    open (or create) another shop file
set -eu
cd "$(dirname "$0")"
sh tools/install-system-libraries.sh window
if [ ! -x .venv/bin/smbcrm ] || [ pyproject.toml -nt .venv/bin/smbcrm ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e .
  touch .venv/bin/smbcrm
fi
exec .venv/bin/smbcrm "$@"
