#!/usr/bin/env bash
# ensure-postgres.sh makes a PostgreSQL server answer on 127.0.0.1:5432 with
# the test role and database WardWatch's store contract tests use, installing
# (Debian, as root) and starting it when needed. On success it prints the DSN
# on stdout; progress goes to stderr. Exit status 0 means the DSN works.
set -euo pipefail

user=wardwatch
pass=wardwatch
db=wardwatch_test
dsn="postgres://$user:$pass@127.0.0.1:5432/$db?sslmode=disable"
log() { echo "ensure-postgres: $*" >&2; }

works() { PGPASSWORD=$pass PGCONNECT_TIMEOUT=3 psql -h 127.0.0.1 -p 5432 -U $user -d $db -tAc 'select 1' >/dev/null 2>&1; }

if command -v psql >/dev/null && works; then echo "$dsn"; exit 0; fi

if [ "$(id -u)" != 0 ]; then
  log "PostgreSQL is not reachable at 127.0.0.1:5432 as $user, and only root can install or start it here"
  exit 1
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing PostgreSQL (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if command -v pg_lsclusters >/dev/null; then
    if ! pg_lsclusters -h | awk '{print $1,$2}' | grep -q "^$ver main$"; then
      log "creating cluster $ver/main"
      pg_createcluster "$ver" main >&2
    fi
    log "starting cluster $ver/main"
    pg_ctlcluster "$ver" main start >&2 || true
  else
    data=/var/lib/postgresql/wardwatch-test
    if [ ! -d "$data" ]; then
      install -d -o postgres -g postgres "$data"
      runuser -u postgres -- "/usr/lib/postgresql/$ver/bin/initdb" -D "$data" >&2
    fi
    runuser -u postgres -- "/usr/lib/postgresql/$ver/bin/pg_ctl" -D "$data" -l "$data/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p 5432" start >&2
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi

psql_admin() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -p 5432 -tAc "$1"; }
if [ "$(psql_admin "select 1 from pg_roles where rolname='$user'")" != 1 ]; then
  psql_admin "create role $user login password '$pass'" >&2
fi
if [ "$(psql_admin "select 1 from pg_database where datname='$db'")" != 1 ]; then
  psql_admin "create database $db owner $user" >&2
fi

if works; then echo "$dsn"; exit 0; fi
log "PostgreSQL started but $dsn does not work"
exit 1
