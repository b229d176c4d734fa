#!/bin/sh
# Build dist/smbcrm-VERSION-setup.exe from the Windows bundle with NSIS (in Git Bash on Windows):
#   sh packaging/windows/build-installer.sh BUNDLE_DIR ICONS_DIR OUT_DIR  (build.sh windows calls it)
# makensis comes from PATH or NSIS's default folder; on a runner without it: choco install nsis.
set -eu
bundle=$(cd "${1:?usage: build-installer.sh BUNDLE_DIR ICONS_DIR OUT_DIR}" && pwd)
icons=$(cd "${2:?}" && pwd)
out=$(mkdir -p "${3:?}" && cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-python3}
makensis=$(command -v makensis || echo "/c/Program Files (x86)/NSIS/makensis.exe")
[ -x "$makensis" ] || { echo "build-installer: makensis not found (choco install nsis)" >&2; exit 1; }
# makensis is a Windows program: give it Windows paths.
native() { if command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else echo "$1"; fi; }
name=$("$py" "$root/packaging/project.py" app_name)
version=$("$py" "$root/packaging/project.py" version)
setup="$out/$name-$version-setup.exe"
started=$(date +%s)
"$makensis" -V2 -WX \
  -DVERSION="$version" \
  -DWIN_VERSION="$("$py" "$root/packaging/project.py" windows_version)" \
  -DAPP_ID="$("$py" "$root/packaging/project.py" app_id)" \
  -DAPP_NAME="$name" \
  -DBUNDLE_DIR="$(native "$bundle")" \
  -DICON="$(native "$icons/smbcrm.ico")" \
  -DLICENSE_FILE="$(native "$root/LICENSE")" \
  -DOUTFILE="$(native "$setup")" \
  "$(native "$here/smbcrm.nsi")"
echo "installer: $setup, $(du -k "$setup" | cut -f1) KiB, built in $(($(date +%s) - started)) s"
