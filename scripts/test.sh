#!/usr/bin/env bash
# Run the whole test suite (sets the project up first when .venv/ is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/xunlu ] || ! command -v ffmpeg >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 \
   || ! command -v pulseaudio >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
   || ! command -v redis-server >/dev/null 2>&1 || ! .venv/bin/python -c 'import rq' >/dev/null 2>&1 \
   || ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 \
   || ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || ! .venv/bin/python -c 'import psycopg' 2>/dev/null; then
  bash scripts/setup.sh --no-demo
fi
exec .venv/bin/python -m pytest -q --durations=30 "$@"
