#!/bin/sh
# Debian/Ubuntu libraries Qt needs: "offscreen" for tests without a display, "window" for a real
# window (xcb). Installs only what is missing; needs root or sudo only then.
set -eu
mode=${1:-window}
need="libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3"
if [ "$mode" = window ]; then
  need="$need libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
        libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0"
fi
command -v dpkg >/dev/null 2>&1 || exit 0  # not Debian/Ubuntu: the system's own packages apply
missing=""
for package in $need; do
  dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "Installing the system libraries Qt needs:$missing"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
