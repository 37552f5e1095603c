#!/usr/bin/env bash
# Run the whole test suite (sets the project up first when .venv/ is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/xunlu ] || ! command -v ffmpeg >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 \
   || ! command -v pulseaudio >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
   || ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1; then
  bash scripts/setup.sh --no-demo
fi
exec .venv/bin/python -m pytest -q "$@"
