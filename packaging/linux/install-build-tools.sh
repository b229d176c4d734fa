#!/bin/sh
# Debian packages the Linux packaging steps need; installs only the missing ones (root or sudo).
#   bundle  libraries PyInstaller copies into the bundle so a real window opens on a bare system
#   checks  desktop-file-validate, appstreamcli, makensis and 7z, for the packaging checks
set -eu
need=""
for mode in "$@"; do
  case "$mode" in
    bundle)
      sh "$(dirname "$0")/../../tools/install-system-libraries.sh" window
      # Qt's Wayland plugin links these; the bundle leaves them to the system (as PyInstaller
      # does for libwayland-client), so they must be present here for the dependency check.
      need="$need libwayland-client0 libwayland-cursor0 libwayland-egl1"
      need="$need binutils" # strip, readelf: strip-debug.sh
      ;;
    checks) need="$need desktop-file-utils appstream nsis p7zip-full" ;;
    *) echo "usage: $0 bundle|checks..." >&2; exit 2 ;;
  esac
done
command -v dpkg >/dev/null 2>&1 || { echo "not a Debian/Ubuntu system" >&2; exit 1; }
missing=""
for package in $need; do
  dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
