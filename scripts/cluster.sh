#!/usr/bin/env bash
# A centre's deployment on one machine: PostgreSQL (the catalog, users and audit chain) and Redis (the job
# queue) from Debian's packages, one `xunlu serve` and two `xunlu worker` processes sharing one home folder.
#
#   scripts/cluster.sh start     # install what is missing, start what is not running (again: a no-op)
#   scripts/cluster.sh status    # each part: running or not (exit 0 only when all are)
#   scripts/cluster.sh stop      # workers (after their current job; killed after $XUNLU_CLUSTER_STOP_WAIT
#                                # seconds, 60, and the job goes back to the queue), server, Redis, PostgreSQL
#   scripts/cluster.sh env       # the environment of the cluster: eval "$(scripts/cluster.sh env)"; xunlu jobs
#
# Everything lives in the state folder ($XUNLU_CLUSTER_DIR, default .cluster/ in the checkout): the database,
# Redis's append-only file, the home folder (unless $XUNLU_HOME names another: the shared media path), the
# generated passwords (secrets/, readable by this user only), pid files (run/) and logs (logs/). PostgreSQL
# and Redis listen on 127.0.0.1 only, with a password made at the first start. Ports: $XUNLU_CLUSTER_PORT
# (the web server, 8000), $XUNLU_CLUSTER_PG_PORT (55432), $XUNLU_CLUSTER_REDIS_PORT (56379), kept in the state
# folder at the first start. $XUNLU_CLUSTER_WORKERS sets the number of workers (2).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

usage() { echo "usage: scripts/cluster.sh start|stop|status|env" >&2; exit 2; }
[ $# -eq 1 ] || usage
command=$1
case "$command" in start|stop|status|env) ;; *) usage ;; esac

say() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# what the cluster writes (passwords, logs: the first start's admin password is in serve.log) is for this
# user only; the state folder and logs/ stay passable for PostgreSQL's own user, which writes its log there
umask 077
state=${XUNLU_CLUSTER_DIR:-$repo/.cluster}
if [ "$command" = start ]; then
  mkdir -p "$state"
  chmod 711 "$state"
fi
[ ! -d "$state" ] || state=$(cd "$state" && pwd)
conf=$state/cluster.conf
secrets=$state/secrets
run=$state/run
logs=$state/logs
pg_dir=$state/postgresql
redis_dir=$state/redis

# --- settings, fixed at the first start ----------------------------------------------------------------
if [ -f "$conf" ]; then
  # shellcheck disable=SC1090
  . "$conf"
else
  case "$command" in
    status) say "no cluster in $state (run: scripts/cluster.sh start)"; exit 3 ;;
    stop) say "no cluster in $state: nothing to stop"; exit 0 ;;
    env) die "no cluster in $state (run: scripts/cluster.sh start)" ;;
  esac
  web_port=${XUNLU_CLUSTER_PORT:-8000}
  pg_port=${XUNLU_CLUSTER_PG_PORT:-55432}
  redis_port=${XUNLU_CLUSTER_REDIS_PORT:-56379}
  home=${XUNLU_HOME:-$state/home}
  workers=${XUNLU_CLUSTER_WORKERS:-2}
  for v in "$web_port" "$pg_port" "$redis_port" "$workers"; do
    [[ "$v" =~ ^[0-9]+$ ]] || die "ports and the number of workers are numbers (got '$v')"
  done
  mkdir -p "$home"
  home=$(cd "$home" && pwd)
  printf 'web_port=%s\npg_port=%s\nredis_port=%s\nworkers=%s\nhome=%q\n' \
    "$web_port" "$pg_port" "$redis_port" "$workers" "$home" >"$conf"
fi
mkdir -p "$secrets" "$run" "$logs"
chmod 711 "$logs"

secret() {   # the password in secrets/NAME, made at the first use (hex: safe in a URL and in SQL)
  local file=$secrets/$1
  if [ ! -s "$file" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
  fi
  cat "$file"
}

pg_url() { echo "postgresql://xunlu:$(secret pg-xunlu)@127.0.0.1:$pg_port/xunlu"; }
redis_url() { echo "redis://:$(secret redis)@127.0.0.1:$redis_port/0"; }

if [ "$command" = env ]; then
  printf 'export XUNLU_HOME=%q\nexport XUNLU_DATABASE_URL=%q\nexport XUNLU_BROKER_URL=%q\nexport XUNLU_SEARCH=postgresql\n' \
    "$home" "$(pg_url)" "$(redis_url)"
  echo "# the web server: http://127.0.0.1:$web_port/"
  exit 0
fi

# --- PostgreSQL: Debian keeps initdb and pg_ctl off the PATH; it refuses to run as root ------------------
pg_bin() { { compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' || true; } | sort -t/ -k5,5n | tail -n1 | xargs -r dirname; }
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

pg() { "${as_pg[@]}" "$@"; }

pg_running() {
  local bin; bin=$(pg_bin)
  [ -n "$bin" ] && [ -f "$pg_dir/data/PG_VERSION" ] && pg "$bin/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1
}

redis_cli() { REDISCLI_AUTH=$(secret redis) redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }
redis_running() { redis_cli ping 2>/dev/null | grep -q PONG; }

# a process of ours: its pid file names a live process whose command line is still ours
pid_alive() {
  local file=$run/$1.pid pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa "xunlu" "/proc/$pid/cmdline" 2>/dev/null
}

web_answers() {
  "$repo/.venv/bin/python" - "$web_port" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/login.html", timeout=2).read()
EOF
}

# --- status ---------------------------------------------------------------------------------------------
status() {
  local all=0 line
  if pg_running; then line="running on 127.0.0.1:$pg_port"; else line="stopped"; all=3; fi
  echo "postgresql  $line   (data $pg_dir/data, log $logs/postgresql.log)"
  if redis_running; then line="running on 127.0.0.1:$redis_port"; else line="stopped"; all=3; fi
  echo "redis       $line   (log $logs/redis.log)"
  if pid_alive serve; then
    if web_answers; then line="running, pid $(cat "$run/serve.pid"), http://127.0.0.1:$web_port/"
    else line="starting or not answering, pid $(cat "$run/serve.pid")"; all=3; fi
  else line="stopped"; all=3; fi
  echo "serve       $line   (log $logs/serve.log)"
  for i in $(seq 1 "$workers"); do
    if pid_alive "worker-$i"; then line="running, pid $(cat "$run/worker-$i.pid")"; else line="stopped"; all=3; fi
    echo "worker-$i    $line   (log $logs/worker-$i.log)"
  done
  echo "home        $home"
  return $all
}

if [ "$command" = status ]; then
  status
  exit $?
fi

# --- stop -----------------------------------------------------------------------------------------------
stop_pid() {   # SIGTERM, then SIGKILL after $2 seconds
  local name=$1 wait_s=$2 pid
  pid_alive "$name" || { rm -f "$run/$name.pid"; return 0; }
  pid=$(cat "$run/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((wait_s * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) did not stop in $wait_s s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$run/$name.pid"
  say "stopped $name"
}

if [ "$command" = stop ]; then
  for i in $(seq 1 "$workers"); do stop_pid "worker-$i" "${XUNLU_CLUSTER_STOP_WAIT:-60}"; done
  stop_pid serve 60
  if redis_running; then redis_cli shutdown >/dev/null 2>&1 || true; say "stopped redis"; fi
  if pg_running; then
    pg "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null && say "stopped postgresql"
  fi
  exit 0
fi

# --- start: system packages when missing (as scripts/setup.sh does) -------------------------------------
[ -x "$repo/.venv/bin/xunlu" ] || die "no .venv/ here: run scripts/setup.sh --no-demo first"
need=()
[ -n "$(pg_bin)" ] || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing: ${need[*]}; install them with your package manager"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing: ${need[*]}; run as root: apt-get install -y ${need[*]}"
    sudo="sudo"
  fi
  say "installing ${need[*]}"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || die "could not install ${need[*]}; run: sudo apt-get update && sudo apt-get install -y ${need[*]}"
fi
bin=$(pg_bin)

# --- PostgreSQL -------------------------------------------------------------------------------------------
if ! pg_running; then
  mkdir -p "$pg_dir"
  [ "${#as_pg[@]}" -eq 0 ] || chown postgres:postgres "$pg_dir"
  pg test -w "$pg_dir" || die "the postgres user cannot write $pg_dir (a folder above it is closed to it); set XUNLU_CLUSTER_DIR"
  if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    say "initialising PostgreSQL in $pg_dir/data"
    pwfile=$pg_dir/admin.pw
    (umask 077; secret pg-admin >"$pwfile"; echo >>"$pwfile")
    [ "${#as_pg[@]}" -eq 0 ] || chown postgres:postgres "$pwfile"
    pg "$bin/initdb" -D "$pg_dir/data" -U postgres --pwfile "$pwfile" --auth scram-sha-256 -E UTF8 \
      --locale C.UTF-8 >"$logs/initdb.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed: see $logs/initdb.log"; }
    rm -f "$pwfile"
  fi
  touch "$logs/postgresql.log"
  [ "${#as_pg[@]}" -eq 0 ] || chown postgres:postgres "$logs/postgresql.log"
  # TCP on the loopback only, no unix socket (a checkout's path can be too long for one)
  pg "$bin/pg_ctl" -D "$pg_dir/data" -l "$logs/postgresql.log" -w -t 60 \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" start \
    >/dev/null || die "PostgreSQL did not start: see $logs/postgresql.log"
  say "postgresql on 127.0.0.1:$pg_port"
fi
psql_admin() { PGPASSWORD=$(secret pg-admin) "$bin/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" \
  -U postgres -d postgres "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'xunlu'")" != 1 ]; then
  # the catalog's owner: a role of its own, not the server's superuser
  psql_admin -c "CREATE ROLE xunlu LOGIN PASSWORD '$(secret pg-xunlu)'" -c "CREATE DATABASE xunlu OWNER xunlu" \
    >>"$logs/initdb.log" 2>&1 || die "could not create the xunlu database: see $logs/initdb.log"
  say "created the database xunlu (owner xunlu)"
fi

# --- Redis: jobs survive a restart (append-only file) -----------------------------------------------------
if ! redis_running; then
  mkdir -p "$redis_dir"
  conf_file=$redis_dir/redis.conf
  (umask 077; printf 'port %s\nbind 127.0.0.1\nprotected-mode yes\ndir %s\nappendonly yes\nsave ""\nrequirepass %s\n' \
    "$redis_port" "$redis_dir" "$(secret redis)" >"$conf_file")
  redis-server "$conf_file" --daemonize yes --pidfile "$run/redis.pid" --logfile "$logs/redis.log" \
    || die "redis-server did not start: see $logs/redis.log"
  for _ in $(seq 1 100); do redis_running && break; sleep 0.1; done
  redis_running || die "redis-server did not answer on 127.0.0.1:$redis_port: see $logs/redis.log"
  say "redis on 127.0.0.1:$redis_port"
fi

# --- the home folder, the server and the workers ----------------------------------------------------------
export XUNLU_HOME=$home XUNLU_DATABASE_URL XUNLU_BROKER_URL XUNLU_SEARCH=postgresql   # one index for every node
XUNLU_DATABASE_URL=$(pg_url)
XUNLU_BROKER_URL=$(redis_url)
"$repo/.venv/bin/python" -c 'from core.config import home_dir; from models.store import assemble_base; assemble_base(home_dir())' \
  >>"$logs/setup.log" 2>&1 || die "could not set up the model in $home: see $logs/setup.log"

launch() {   # NAME ARGS...: a process of its own session (a Ctrl-C here does not reach it), its pid kept
  local name=$1; shift
  if pid_alive "$name"; then return 0; fi
  setsid "$@" </dev/null >>"$logs/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
}

launch serve "$repo/.venv/bin/xunlu" serve --host 127.0.0.1 --port "$web_port"
for i in $(seq 1 "$workers"); do
  launch "worker-$i" "$repo/.venv/bin/xunlu" worker --name "$(hostname -s 2>/dev/null || echo node)-cluster-$i"
done
for _ in $(seq 1 600); do
  web_answers && break
  pid_alive serve || die "xunlu serve stopped: see $logs/serve.log"
  sleep 0.2
done
web_answers || die "xunlu serve does not answer on 127.0.0.1:$web_port: see $logs/serve.log"
sleep 1
for i in $(seq 1 "$workers"); do pid_alive "worker-$i" || die "worker-$i stopped: see $logs/worker-$i.log"; done
say "up: http://127.0.0.1:$web_port/ ; for xunlu commands against it: eval \"\$(scripts/cluster.sh env)\""
status >&2 || true
