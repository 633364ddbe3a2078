#!/usr/bin/env bash
# The README's two commands. Each installs whatever is missing, then does its job:
#   bash scripts/dev.sh demo [DEMO OPTIONS]   the console against the bundled district
#   bash scripts/dev.sh test [PYTEST OPTIONS] lint, type checks, layer contracts, tests
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: libVLC with its decoders and HTTP access, ffmpeg for the camera
# simulator, the DejaVu font it burns labels with, GStreamer's RTSP server (with Debian's
# Python bindings) for the simulator's RTSP front, Xvfb, a D-Bus session and GNOME keyring
# (the installed package's self-test checks the OS keyring), and the libraries Qt's xcb
# and offscreen platforms load. PostgreSQL's server, for the storage tests on the second
# engine (they start a throwaway cluster of their own; the package's own cluster is unused).
APT_PACKAGES=(
  python3 python3-venv python3-pip
  postgresql
  libvlc5 vlc-plugin-base ffmpeg fonts-dejavu-core
  python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  xvfb xauth
  dbus-daemon gnome-keyring
  libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6
  libdbus-1-3 libglib2.0-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0
  libxcb-xkb1 libxcb-xfixes0
)

install_debian_packages() {
  command -v dpkg-query >/dev/null || return 0   # not Debian: install the equivalents by hand
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_venv() {
  local stamp=.venv/.installed
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    python3 -m venv .venv
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "== installing the project and its development tools into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  demo)
    install_debian_packages
    install_venv
    exec .venv/bin/dispatch-console demo "$@"
    ;;
  test)
    install_debian_packages
    install_venv
    export QT_QPA_PLATFORM=offscreen
    echo "== ruff";        .venv/bin/ruff check . && .venv/bin/ruff format --check .
    echo "== mypy";        .venv/bin/mypy
    echo "== layers";      .venv/bin/lint-imports
    echo "== pytest";      exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: bash scripts/dev.sh demo [options] | test [pytest options]" >&2
    exit 2
    ;;
esac
