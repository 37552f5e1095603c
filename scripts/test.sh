#!/usr/bin/env bash
# Run the whole test suite (sets the project up first when .venv/ is missing). Arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/xunlu ] || ! command -v ffmpeg >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 \
   || ! command -v pulseaudio >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1 \
   || ! command -v redis-server >/dev/null 2>&1 || ! .venv/bin/python -c 'import rq' >/dev/null 2>&1 \
   || ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 \
   || ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || ! .venv/bin/python -c 'import psycopg' 2>/dev/null \
   || ! .venv/bin/python -c 'import xdist' 2>/dev/null; then
  bash scripts/setup.sh --no-demo || exit 1
fi
# Two passes: most tests on two workers (pytest-xdist; much of the suite waits on recordings, browsers and
# servers, not the CPU), then the tests marked solo, which assert timing in real time, alone (tests/conftest.py).
# A pass with nothing to run (exit code 5: the arguments chose tests of the other pass only) is not a failure.
# With a -m of your own, one pass in one process.
for arg in "$@"; do
  case "$arg" in -m|-m*) exec .venv/bin/python -m pytest -q --durations=30 "$@" ;; esac
done
.venv/bin/python -m pytest -q --durations=20 -n 2 -m "not solo" "$@"
first=$?
.venv/bin/python -m pytest -q --durations=10 -m solo "$@"
second=$?
if [ $first -eq 5 ] && [ $second -eq 5 ]; then exit 5; fi
for rc in $first $second; do
  if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then exit $rc; fi
done
exit 0
