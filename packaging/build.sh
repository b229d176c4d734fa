#!/bin/sh
# Build smbcrm's bundle and installers: one command per artifact, outputs in dist/.
#
#   packaging/build.sh icons        build/icons/: Linux PNGs, smbcrm.ico, smbcrm.icns (from the SVG)
#   packaging/build.sh bundle       dist/smbcrm/ (and dist/smbcrm.app on macOS): Python, Qt, the app
#   packaging/build.sh deb          dist/smbcrm_VERSION_ARCH.deb        on Debian/Ubuntu
#   packaging/build.sh windows      dist/smbcrm-VERSION-setup.exe       on Windows (Git Bash)
#   packaging/build.sh macos        dist/smbcrm-VERSION.dmg             on macOS
#   packaging/build.sh nsis-check   compile the NSIS script against a stand-in bundle (any OS)
#
# Installers build the bundle first unless SMBCRM_REUSE_BUNDLE=1 and dist/smbcrm exists.
# The build environment (build/venv-packaging) is made here from pyproject.toml plus
# packaging/requirements-build.txt; PYTHON names the interpreter to make it with (3.11+).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. packaging/lib.sh

target=${1:-}
case "$target" in
  icons) build_icons ;;
  bundle) build_bundle ;;
  deb)
    bundle_unless_reused
    sh packaging/linux/build-deb.sh "$ROOT/dist/$APP_NAME" "$ROOT/build/icons" "$ROOT/dist"
    ;;
  windows)
    bundle_unless_reused
    sh packaging/windows/build-installer.sh "$ROOT/dist/$APP_NAME" "$ROOT/build/icons" "$ROOT/dist"
    ;;
  macos)
    bundle_unless_reused
    sh packaging/macos/build-dmg.sh "$ROOT/dist/$APP_NAME.app" "$ROOT/dist"
    ;;
  nsis-check)
    build_icons
    sh packaging/windows/check-script.sh "$ROOT/build/icons/smbcrm.ico"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
