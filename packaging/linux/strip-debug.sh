#!/bin/sh
# Remove debugging information (only that: symbols stay) from the bundle's ELF files that carry
# it. A Python built with -g ships libpython with 18 MB of it, more than the rest of Python.
#   sh packaging/linux/strip-debug.sh BUNDLE_DIR
set -eu
bundle=${1:?usage: strip-debug.sh BUNDLE_DIR}
saved=0
libraries=$(mktemp)
trap 'rm -f "$libraries"' EXIT
find "$bundle" -type f \( -name '*.so' -o -name '*.so.*' \) >"$libraries"
while read -r file; do
  readelf -S "$file" 2>/dev/null | grep -q '\.debug_info' || continue
  before=$(wc -c <"$file")
  strip --strip-debug "$file"
  saved=$((saved + before - $(wc -c <"$file")))
done <"$libraries"
echo "strip-debug: $((saved / 1000000)) MB of debugging information removed"
