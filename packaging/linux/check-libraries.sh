#!/bin/sh
# Fail when a library of the bundle needs a system library that cannot be found, so that a
# bundle built on a machine missing one never ships. BUNDLE defaults to dist/smbcrm.
# The GTK platform theme is the one optional plugin: Qt falls back when GTK is not installed.
set -eu
bundle=${1:?usage: check-libraries.sh BUNDLE_DIR}
internal="$bundle/_internal"
export LD_LIBRARY_PATH="$internal:$internal/PySide6/Qt/lib"
missing=$(
  find "$bundle" -type f \( -name '*.so' -o -name '*.so.*' -o -perm -u+x \) ! -name 'libqgtk3.so' |
    while read -r file; do
      head -c 4 "$file" | grep -q 'ELF' || continue
      ldd "$file" 2>/dev/null | awk -v f="$file" '/not found/ {print $1 " (needed by " f ")"}'
    done | sort -u
)
if [ -n "$missing" ]; then
  echo "check-libraries: these system libraries are missing, so the bundle would be incomplete:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "check-libraries: every library the bundle links is in the bundle or on the system"
