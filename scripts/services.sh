#!/usr/bin/env bash
# Makes sure Redis and PostgreSQL answer. Uses REDIS_URL / DATABASE_URL when set; otherwise local
# servers on 127.0.0.1, started (and as root on Debian, installed) when they are not running.
# Prints `export` lines for the URLs found; a service that cannot be had is reported, and the tests
# that need it then fail under CI=true.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PY=${PY:-.venv/bin/python}

probe() { # probe redis|postgres URL
  "$PY" - "$1" "$2" <<'PYEOF' >/dev/null 2>&1
import sys
kind, url = sys.argv[1], sys.argv[2]
if kind == "redis":
    import redis
    redis.Redis.from_url(url, socket_connect_timeout=2).ping()
else:
    import psycopg
    psycopg.connect(url, connect_timeout=3).close()
PYEOF
}

wait_for() { # wait_for redis|postgres URL
  for _ in $(seq 1 30); do probe "$1" "$2" && return 0; sleep 0.5; done
  return 1
}

ensure_redis() {
  local url=${REDIS_URL:-redis://127.0.0.1:6379/0}
  if ! probe redis "$url" && [ -z "${REDIS_URL:-}" ]; then
    command -v redis-server >/dev/null || apt_install redis-server || true
    mkdir -p /tmp/portal-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/portal-redis --logfile /tmp/portal-redis/redis.log >&2 || true
    wait_for redis "$url" || true
  fi
  if probe redis "$url"; then echo "export REDIS_URL=$url"; else log "Redis is not reachable at $url"; fi
}

start_local_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql || return 0
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] && pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
}

local_role() { # a password role works whatever pg_hba says (trust or scram) for 127.0.0.1
  [ "$(id -u)" = 0 ] && command -v runuser >/dev/null || return 0
  runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='portal'" 2>/dev/null | grep -q 1 ||
    runuser -u postgres -- psql -qc "CREATE ROLE portal LOGIN SUPERUSER PASSWORD 'portal'" >&2 || true
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then
    probe postgres "$DATABASE_URL" || log "PostgreSQL is not reachable at DATABASE_URL"
    echo "export DATABASE_URL=$DATABASE_URL"
    return
  fi
  local candidates=("postgres://postgres@127.0.0.1:5432/postgres" "postgres://portal:portal@127.0.0.1:5432/postgres")
  probe postgres "${candidates[0]}" || probe postgres "${candidates[1]}" || { start_local_postgres; local_role; sleep 1; }
  for url in "${candidates[@]}"; do
    if wait_for postgres "$url"; then echo "export DATABASE_URL=${url%/postgres}/portal"; return; fi
  done
  log "PostgreSQL is not reachable on 127.0.0.1:5432"
}

ensure_redis
ensure_postgres
