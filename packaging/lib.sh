# Shared by packaging/build.sh and packaging/linux/smoke.sh (sourced, with ROOT set and cwd ROOT).

# The interpreter the build environment is made from: $PYTHON, else the first python3/python
# that is 3.11+ (on Windows `python3` may be a Store stub that only opens the Store).
host_python() {
  for candidate in ${PYTHON:-} python3 python; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  echo "packaging: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

HOST_PY=$(host_python)
export PYTHON="$HOST_PY" # for the platform scripts build.sh calls
APP_NAME=$("$HOST_PY" packaging/project.py app_name)
VERSION=$("$HOST_PY" packaging/project.py version)
BUILD_ENV="$ROOT/build/venv-packaging"

build_env_python() {
  if [ -x "$BUILD_ENV/bin/python" ]; then
    echo "$BUILD_ENV/bin/python"
  else
    echo "$BUILD_ENV/Scripts/python.exe"
  fi
}

# A path the native Python understands (Git Bash on Windows hands /c/... to programs unchanged
# in environment variables).
native_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -m "$1"; else echo "$1"; fi
}

# Seconds since an epoch, for timing steps.
now() { date +%s; }

# Apparent size of a folder in bytes (du -b is not on macOS).
size_bytes() {
  "$HOST_PY" -c 'import os, sys
total = 0
for folder, _dirs, files in os.walk(sys.argv[1]):
    total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
print(total)' "$1" | tr -d '\r'
}

# "157.6 MB (150.3 MiB)" for a byte count.
human_size() {
  "$HOST_PY" -c 'import sys; n = int(sys.argv[1]); print(f"{n / 1e6:.1f} MB ({n / 2**20:.1f} MiB)")' "$1" | tr -d '\r'
}

# The build environment: the app's dependencies and PyInstaller, remade when either list changes.
ensure_build_env() {
  wanted=$(cat pyproject.toml packaging/requirements-build.txt | cksum)
  if [ -f "$BUILD_ENV/.stamp" ] && [ "$(cat "$BUILD_ENV/.stamp")" = "$wanted" ]; then
    return 0
  fi
  echo "packaging: making the build environment in build/venv-packaging"
  rm -rf "$BUILD_ENV"
  "$HOST_PY" -m venv "$BUILD_ENV"
  py=$(build_env_python)
  "$py" -m pip install -q --upgrade pip
  "$HOST_PY" packaging/project.py dependencies >"$ROOT/build/requirements-app.txt"
  "$py" -m pip install -q -r "$ROOT/build/requirements-app.txt" -r packaging/requirements-build.txt
  echo "$wanted" >"$BUILD_ENV/.stamp"
}

build_icons() {
  ensure_build_env
  "$(build_env_python)" packaging/icons.py "$ROOT/build/icons"
}

build_bundle() {
  started=$(now)
  ensure_build_env
  if [ "$(uname -s)" = Linux ]; then
    # Libraries missing here are missing from the bundle: install the ones a real window needs.
    sh packaging/linux/install-build-tools.sh bundle
  fi
  build_icons
  pyinstaller_started=$(now)
  SMBCRM_ICONS_DIR=$(native_path "$ROOT/build/icons") "$(build_env_python)" -m PyInstaller --noconfirm --clean \
    --log-level WARN --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
    packaging/pyinstaller/smbcrm.spec
  finished=$(now)
  if [ "$(uname -s)" = Linux ]; then
    sh packaging/linux/strip-debug.sh "$ROOT/dist/$APP_NAME"
    sh packaging/linux/check-libraries.sh "$ROOT/dist/$APP_NAME"
  fi
  bytes=$(size_bytes "$ROOT/dist/$APP_NAME")
  echo "bundle: dist/$APP_NAME $VERSION, $(human_size "$bytes") unpacked;" \
    "PyInstaller $((finished - pyinstaller_started)) s, whole step $((finished - started)) s"
  echo "$bytes" >"$ROOT/build/bundle-bytes"
}

bundle_unless_reused() {
  if [ "${SMBCRM_REUSE_BUNDLE:-0}" = 1 ] && [ -d "$ROOT/dist/$APP_NAME" ]; then
    echo "packaging: reusing dist/$APP_NAME"
    build_icons
  else
    build_bundle
  fi
}
