#!/usr/bin/env bash
# Build the police console's Debian package: dist/dispatch-console_VERSION_ARCH.deb
#
#   bash packaging/build-deb.sh [--out DIR]
#
# It installs the console into a virtual environment at /opt/dispatch-console, made with
# Debian's own Python and depending on Debian's libVLC and Qt xcb libraries (see
# packaging/README.md for why not a frozen bundle). The reference district server,
# stream gateway and camera simulator are left out: they come with
# `pip install dispatch-console[district]`. Needs python3-venv and network access to
# PyPI (or a pip cache / index that has the wheels).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    *) echo "usage: bash packaging/build-deb.sh [--out DIR]" >&2; exit 2 ;;
  esac
done

PKG=dispatch-console
PREFIX=/opt/dispatch-console
# The venv links to this exact interpreter, so the package depends on its version.
PYMINOR=$(/usr/bin/python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
PYTHON=/usr/bin/python$PYMINOR
VERSION=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' dispatch_console/__init__.py)
ARCH=$(dpkg --print-architecture)
[ -n "$VERSION" ] || { echo "build-deb: no __version__ in dispatch_console/__init__.py" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/root
VENV=$ROOT$PREFIX

echo "== building $PKG $VERSION for $ARCH with Python $PYMINOR"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-compile .
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# Not for police workstations: the district's servers, the simulator and the demo.
"$VENV/bin/python" - "$SITE" <<'PY'
import pathlib, shutil, sys
site = pathlib.Path(sys.argv[1])
left_out = ["district", "gateway", "camsim", "demo.py"]
for name in left_out:
    path = site / "dispatch_console" / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()
# Keep pip's record of installed files true to what ships.
record = next(site.glob("dispatch_console-*.dist-info")) / "RECORD"
prefixes = tuple(f"dispatch_console/{name}" for name in left_out)
lines = record.read_text().splitlines()
record.write_text("".join(f"{l}\n" for l in lines if not l.startswith(prefixes)))
PY
# Qt's developer tools (pyside6-deploy & co.) are not needed to run the console.
rm -rf "$SITE/PySide6/scripts" "$VENV"/bin/pyside6-*
# Police IT controls versions: no package manager inside the installed console.
"$VENV/bin/python" -m pip uninstall -q -y pip setuptools >/dev/null 2>&1 || true
rm -f "$VENV"/bin/pip* "$VENV"/bin/activate*  "$VENV"/bin/Activate.ps1
# The venv was made under the staging folder: point its scripts at the installed place.
grep -rlI --null "$ROOT" "$VENV/bin" "$VENV/pyvenv.cfg" | xargs -0 -r sed -i "s#$ROOT##g"
if grep -rqI "$ROOT" "$VENV"; then
  echo "build-deb: staging path left in:" >&2; grep -rlI "$ROOT" "$VENV" >&2; exit 1
fi
# Byte-code compiled now, with the installed paths, so nothing is written under /opt later.
"$VENV/bin/python" -m compileall -q -j0 -s "$ROOT" -p / "$VENV/lib" > "$STAGE/compile.log" || {
  echo "build-deb: byte-compiling failed:" >&2; tail -20 "$STAGE/compile.log" >&2; exit 1; }

install -d "$ROOT/usr/bin" "$ROOT/usr/share/applications" "$ROOT/etc/$PKG" \
  "$ROOT/usr/share/icons/hicolor/scalable/apps" "$ROOT/usr/share/doc/$PKG"
ln -s "$PREFIX/bin/dispatch-console" "$ROOT/usr/bin/dispatch-console"
install -m 644 packaging/dispatch-console.desktop "$ROOT/usr/share/applications/"
install -m 644 packaging/dispatch-console.svg "$ROOT/usr/share/icons/hicolor/scalable/apps/"
install -m 644 packaging/config.toml.example "$ROOT/etc/$PKG/config.toml"
install -m 644 CHANGELOG.md packaging/dispatch-console.env.example "$ROOT/usr/share/doc/$PKG/"

install -d "$ROOT/DEBIAN"
echo "/etc/$PKG/config.toml" > "$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: Dispatch Console maintainers <dispatch-console@localhost>
Installed-Size: $SIZE
Section: video
Priority: optional
Depends: python$PYMINOR, libvlc5, vlc-plugin-base, libegl1, libgl1, libopengl0, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, libfreetype6, libdbus-1-3, libglib2.0-0, libx11-xcb1, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xinerama0, libxcb-xkb1, libxcb-xfixes0
Recommends: gnome-keyring | kwalletmanager
Description: Live school cameras for police dispatch during a declared emergency
 The police console of Dispatch Console: sign in with a second factor, see a
 school district's shareable cameras only while an emergency grant is in force,
 every viewing session recorded in the district's audit trail.
 .
 Configure it in /etc/dispatch-console/config.toml; check it with
 "dispatch-console selftest".
CONTROL
# Files Python or IT's tools may leave under /opt (caches) go with the package.
cat > "$ROOT/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
case "$1" in
  remove|purge) rm -rf /opt/dispatch-console ;;
esac
if [ "$1" = purge ]; then rmdir /etc/dispatch-console 2>/dev/null || true; fi
POSTRM
chmod 755 "$ROOT/DEBIAN/postrm"

mkdir -p "$OUT"
DEB="$OUT/${PKG}_${VERSION}_${ARCH}.deb"
# Fast compression: the payload is mostly Qt's already-compact shared libraries.
dpkg-deb --root-owner-group -Zgzip -z1 --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
