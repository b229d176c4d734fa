#!/bin/sh
# Put smbcrm.app in a compressed disk image with a link to /Applications (drag to install):
#   sh packaging/macos/build-dmg.sh dist/smbcrm.app OUT_DIR    (packaging/build.sh macos calls it)
# Runs on macOS only (hdiutil). The app is signed ad hoc by PyInstaller; a Developer ID signature
# and notarisation need Apple credentials and are not done here (see packaging/README.md).
set -eu
app=$(cd "${1:?usage: build-dmg.sh APP OUT_DIR}" && pwd)
out=$(mkdir -p "${2:?}" && cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
name=$("${PYTHON:-python3}" "$root/packaging/project.py" app_name)
version=$("${PYTHON:-python3}" "$root/packaging/project.py" version)
dmg="$out/$name-$version.dmg"
started=$(date +%s)

stage="$root/build/dmg"
rm -rf "$stage" "$dmg"
mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
hdiutil create -volname "$name $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg"
hdiutil verify "$dmg"
echo "dmg: $dmg, $(du -k "$dmg" | cut -f1) KiB, built in $(($(date +%s) - started)) s"
