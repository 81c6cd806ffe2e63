#!/usr/bin/env bash
# A private PostgreSQL server for the tests, on a loopback port, in its own data directory.
#   scripts/postgres.sh start    install (Debian's postgresql, once) and start; prints the URL on its last line
#   scripts/postgres.sh status   exit 0 when it answers
#   scripts/postgres.sh url      print the URL
#   scripts/postgres.sh stop     stop the server this script started (only that one)
# Runs as root (PostgreSQL itself runs as the 'postgres' system user). Environment: TRACKER_PG_DIR
# (default /tmp/tracker-pg), TRACKER_PG_PORT (default 55432).
set -euo pipefail
data=${TRACKER_PG_DIR:-/tmp/tracker-pg}
port=${TRACKER_PG_PORT:-55432}
url="postgresql://postgres@127.0.0.1:$port/postgres"

bin_dir() {
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
  [ -n "$initdb" ] && dirname "$initdb"
}

install() {
  [ -n "$(bin_dir)" ] && return 0
  [ "$(id -u)" = 0 ] || { echo "postgres.sh: installing PostgreSQL needs root" >&2; exit 2; }
  echo "postgres.sh: installing Debian's postgresql" >&2
  # the package would start a cluster of its own: keep daemons from starting while it installs
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/tmp/tracker-pg-apt.log 2>&1; then
    apt-get update -qq >>/tmp/tracker-pg-apt.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >>/tmp/tracker-pg-apt.log 2>&1 \
      || { rm -f /usr/sbin/policy-rc.d; echo "postgres.sh: apt-get failed, see /tmp/tracker-pg-apt.log" >&2; exit 1; }
  fi
  rm -f /usr/sbin/policy-rc.d
}

answers() {
  local bin
  bin=$(bin_dir) || return 1
  [ -n "$bin" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"
}

case "${1:-}" in
  start)
    if answers; then echo "$url"; exit 0; fi
    install
    bin=$(bin_dir)
    mkdir -p "$data" && chown postgres:postgres "$data" && chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
      runuser -u postgres -- "$bin/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
    fi
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
      || { echo "postgres.sh: PostgreSQL did not start; its log:" >&2; tail -n 20 "$data/server.log" >&2; exit 1; }
    echo "$url"
    ;;
  status) answers ;;
  url) echo "$url" ;;
  stop)
    bin=$(bin_dir) || exit 0
    if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
      runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *) echo "usage: $0 start|status|url|stop" >&2; exit 2 ;;
esac
