#!/bin/sh
# Build dist/smbcrm_VERSION_ARCH.deb from the PyInstaller bundle:
#   sh packaging/linux/build-deb.sh BUNDLE_DIR ICONS_DIR OUT_DIR   (packaging/build.sh deb calls it)
#
# Layout: the bundle in /usr/lib/smbcrm, /usr/bin/smbcrm a link to it, the .desktop file,
# AppStream metainfo and hicolor icons under /usr/share. dpkg's triggers refresh the menu and the
# icon cache, so there are no maintainer scripts.
# Dependencies: the build host's glibc or newer (the bundle carries the host's libraries), the
# packages of the libraries the bundle links from the system (found with ldd: GL, EGL, xcb,
# Wayland), and libfontconfig1, whose configuration files the bundled fontconfig reads.
# SMBCRM_DEB_COMPRESSION: xz (default, smallest download) or zstd (much faster to build).
set -eu
bundle=$(cd "${1:?usage: build-deb.sh BUNDLE_DIR ICONS_DIR OUT_DIR}" && pwd)
icons=$(cd "${2:?}" && pwd)
out=$(mkdir -p "${3:?}" && cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
started=$(date +%s)
# No project address exists yet; dpkg wants a name and an address here.
maintainer=${SMBCRM_MAINTAINER:-"The smbcrm developers <maintainers@smbcrm.co>"}

py=${PYTHON:-python3}
name=$("$py" "$root/packaging/project.py" app_name)
app_id=$("$py" "$root/packaging/project.py" app_id)
version=$("$py" "$root/packaging/project.py" version)
arch=$(dpkg --print-architecture)
glibc=$(dpkg-query -W -f '${Version}' libc6 | sed 's/-.*//')
deb="$out/${name}_${version}_${arch}.deb"

stage="$root/build/deb/${name}_${version}_${arch}"
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/lib" "$stage/usr/bin" "$stage/usr/share/applications" \
  "$stage/usr/share/metainfo" "$stage/usr/share/icons" "$stage/usr/share/doc/$name"
cp -a "$bundle" "$stage/usr/lib/$name"
ln -s "../lib/$name/$name" "$stage/usr/bin/$name"
install -m 644 "$here/$app_id.desktop" "$stage/usr/share/applications/$app_id.desktop"
cp -a "$icons/hicolor" "$stage/usr/share/icons/hicolor"
# The release this package is, for software centres.
today=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
sed "s|</component>|  <releases>\n    <release version=\"$version\" date=\"$today\"/>\n  </releases>\n</component>|" \
  "$here/$app_id.metainfo.xml" >"$stage/usr/share/metainfo/$app_id.metainfo.xml"
cat >"$stage/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name
Comment: The bundle in /usr/lib/$name also carries Python, Qt (LGPL-3) and the libraries
 smbcrm uses, each under its own licence; see the licence files inside the bundle.

Files: *
Copyright: The smbcrm developers
License: GPL-3+
 On Debian systems the full text is in /usr/share/common-licenses/GPL-3.
EOF
chmod -R u+rwX,go+rX,go-w "$stage/usr"

# Packages owning the system libraries the bundle links (everything else travels inside it).
export LD_LIBRARY_PATH="$stage/usr/lib/$name/_internal:$stage/usr/lib/$name/_internal/PySide6/Qt/lib"
system_libraries=$(find "$stage/usr/lib/$name" -type f ! -name 'libqgtk3.so' | while read -r file; do
  head -c 4 "$file" | grep -q 'ELF' && ldd "$file" 2>/dev/null
done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | grep -v "^$stage" | sort -u)
unset LD_LIBRARY_PATH
packages=""
for library in $system_libraries; do
  owner=""
  # Merged /usr: dpkg knows /usr/lib/... even when ldd says /lib/...
  for candidate in "$library" "/usr$library" "$(readlink -f "$library")"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
  done
  if [ -z "$owner" ]; then
    echo "build-deb: no installed package owns $library, which the bundle links" >&2
    exit 1
  fi
  packages="$packages $owner"
done
depends="libc6 (>= $glibc)"
for package in $(echo "$packages libfontconfig1" | tr ' ' '\n' | sort -u); do
  [ "$package" = libc6 ] || depends="$depends, $package"
done
installed_kb=$(du -sk "$stage/usr" | cut -f1)

cat >"$stage/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: $depends
Recommends: fonts-dejavu-core | fonts-liberation2, hicolor-icon-theme
Section: misc
Priority: optional
Description: customers, loyalty and personal email for a small shop
 smbcrm keeps every customer of a small shop in one profile with one history,
 offline, in one file on your computer: spreadsheet and contact import,
 segments, a loyalty program, surveys and personal email through the shop's
 own account. Spanish and English.
 .
 This package carries its own Python and Qt in /usr/lib/$name.
EOF

compression=${SMBCRM_DEB_COMPRESSION:-xz}
packed=$(date +%s)
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
finished=$(date +%s)
echo "deb: $deb"
echo "deb: Depends: $depends"
echo "deb: $(du -k "$deb" | cut -f1) KiB ($compression), $installed_kb KiB installed;" \
  "packed in $((finished - packed)) s, whole step $((finished - started)) s"
