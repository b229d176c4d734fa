#!/bin/sh
# Compile smbcrm.nsi against a stand-in folder laid out like the Windows bundle (smbcrm.exe and
# _internal/), with warnings as errors: proves the installer script builds on any OS with makensis.
#   sh packaging/windows/check-script.sh ICON.ico [OUT.exe]
set -eu
icon=${1:?usage: check-script.sh ICON.ico [OUT.exe]}
icon="$(cd "$(dirname "$icon")" && pwd)/$(basename "$icon")" # makensis resolves from the script
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
makensis=$(command -v makensis || echo "/c/Program Files (x86)/NSIS/makensis.exe")
[ -x "$makensis" ] || { echo "check-script: makensis is not installed (apt-get install nsis)" >&2; exit 1; }
name=$("$py" "$root/packaging/project.py" app_name)
work=$(mktemp -d "${TMPDIR:-/tmp}/smbcrm-nsis.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/_internal/PySide6"
echo "stand-in for the PyInstaller program" >"$work/bundle/$name.exe"
echo "stand-in for a Qt library" >"$work/bundle/_internal/PySide6/Qt6Core.dll"
out=${2:-$work/$name-setup.exe}
out="$(mkdir -p "$(dirname "$out")" && cd "$(dirname "$out")" && pwd)/$(basename "$out")"
"$makensis" -V2 -WX \
  -DVERSION="$("$py" "$root/packaging/project.py" version)" \
  -DWIN_VERSION="$("$py" "$root/packaging/project.py" windows_version)" \
  -DAPP_ID="$("$py" "$root/packaging/project.py" app_id)" \
  -DAPP_NAME="$name" \
  -DBUNDLE_DIR="$work/bundle" \
  -DICON="$icon" \
  -DLICENSE_FILE="$root/LICENSE" \
  -DOUTFILE="$out" \
  "$here/smbcrm.nsi"
[ -s "$out" ] || { echo "check-script: makensis wrote no installer" >&2; exit 1; }
echo "check-script: smbcrm.nsi compiles ($(du -k "$out" | cut -f1) KiB installer for a stand-in bundle)"
