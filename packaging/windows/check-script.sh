#!/bin/sh
# Compile smbcrm.nsi against a stand-in folder laid out like the Windows bundle (smbcrm.exe and
# _internal/), with warnings as errors: proves the installer script builds on any OS with makensis.
# Where 7z is installed, also checks the installer holds smbcrm.exe, _internal/ and the uninstaller.
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
# 7-Zip reads NSIS installers: the files must land where the bundle has them.
if command -v 7z >/dev/null 2>&1; then
  listing=$(7z l "$out")
  for path in "$name.exe" "_internal/PySide6/Qt6Core.dll" "uninstall.exe"; do
    echo "$listing" | grep -q " $path\$" ||
      { echo "check-script: the installer does not install $path" >&2; exit 1; }
  done
fi
echo "check-script: smbcrm.nsi compiles ($(du -k "$out" | cut -f1) KiB installer for a stand-in bundle)"
