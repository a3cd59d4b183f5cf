#!/usr/bin/env bash
# Make a throwaway PostgreSQL server available on 127.0.0.1 for the tests, and print its URL.
#
#   bash scripts/postgres.sh        # start (or reuse) the server; last line of stdout is the URL
#   bash scripts/postgres.sh stop   # stop it
#
# Idempotent: a second run finds the running server and prints the same URL. Installs Debian's
# `postgresql` package when no server binaries are found (as root, or with password-less sudo).
# The cluster lives in $SHOAL_PG_DIR (default .tmp/pg under the repository), listens only on
# 127.0.0.1 (port $SHOAL_PG_PORT, default 54329, or the next free one), trusts loopback
# connections, and runs with fsync off: it is for tests, never for data you want to keep.
# Only the URL goes to stdout; progress and errors go to stderr, and failure exits non-zero.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_DIR=${SHOAL_PG_DIR:-$ROOT/.tmp/pg}
PORT=${SHOAL_PG_PORT:-54329}
DATABASE=${SHOAL_PG_DATABASE:-shoal_test}
ROLE=postgres

say() { echo "postgres.sh: $*" >&2; }
die() { say "$*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# -- the server binaries -----------------------------------------------------------------------
find_bindir() {
    local pg_ctl
    if pg_ctl=$(command -v pg_ctl 2>/dev/null) && [ -x "$(dirname "$(readlink -f "$pg_ctl")")/initdb" ]; then
        dirname "$(readlink -f "$pg_ctl")"
        return 0
    fi
    # Debian keeps the server binaries off PATH, one directory per major version: take the newest.
    local dir
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
        return 0
    fi
    return 1
}

install_postgresql() {
    local sudo=()
    if ! is_root; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "no PostgreSQL server binaries (pg_ctl, initdb) found and not root: install the" \
                "'postgresql' package (apt-get install postgresql) or put pg_ctl on PATH"
        fi
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "no PostgreSQL server binaries found and no apt-get to install them; install PostgreSQL" \
            "and put pg_ctl on PATH"
    say "installing Debian's postgresql package (apt-get)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
        die "apt-get update failed (see above)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        postgresql >&2 || die "apt-get install postgresql failed (see above)"
}

BINDIR=$(find_bindir) || { install_postgresql; BINDIR=$(find_bindir) ||
    die "installed postgresql but found no pg_ctl/initdb under /usr/lib/postgresql/*/bin"; }

# -- who runs the server: initdb and postgres refuse to run as root ----------------------------
RUN_AS=""
if is_root; then
    RUN_AS=postgres
    if ! id -u "$RUN_AS" >/dev/null 2>&1; then
        say "creating system user $RUN_AS"
        useradd --system --user-group --no-create-home --shell /bin/sh "$RUN_AS" ||
            die "could not create the $RUN_AS user that runs the server (initdb refuses root)"
    fi
fi

as_server_user() {
    if [ -z "$RUN_AS" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$RUN_AS" -- "$@"
    else
        su -s /bin/sh "$RUN_AS" -c "$(printf '%q ' "$@")"
    fi
}

mkdir -p "$PG_DIR" || die "cannot create $PG_DIR; set SHOAL_PG_DIR to a writable directory"
PG_DIR=$(cd "$PG_DIR" && pwd)
if [ -n "$RUN_AS" ]; then
    chown "$RUN_AS" "$PG_DIR"
    if ! as_server_user test -w "$PG_DIR"; then
        # e.g. the repository sits under /root, which the postgres user cannot enter
        fallback=${TMPDIR:-/tmp}/shoal-pg
        say "user $RUN_AS cannot write $PG_DIR; using $fallback (set SHOAL_PG_DIR to choose)"
        PG_DIR=$fallback
        mkdir -p "$PG_DIR" && chown "$RUN_AS" "$PG_DIR" && chmod 700 "$PG_DIR"
        as_server_user test -w "$PG_DIR" || die "user $RUN_AS cannot write $PG_DIR either"
    fi
fi
DATA=$PG_DIR/data
LOG=$PG_DIR/server.log

# One run at a time (two `make test` started together share the server).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$PG_DIR/.lock"
    flock -w 120 9 || die "another postgres.sh holds $PG_DIR/.lock"
fi

server_port() {  # the port of the running server, from its pid file
    sed -n 4p "$DATA/postmaster.pid" 2>/dev/null
}

is_running() {
    [ -f "$DATA/postmaster.pid" ] && as_server_user "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

if [ "${1:-}" = "stop" ]; then
    if is_running; then
        as_server_user "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w >&2
    else
        say "no server running in $DATA"
    fi
    exit 0
fi

# -- the cluster -------------------------------------------------------------------------------
version=$("$BINDIR/pg_ctl" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')
if [ -f "$DATA/PG_VERSION" ] && [ "$(cat "$DATA/PG_VERSION")" != "$version" ]; then
    say "cluster in $DATA is from PostgreSQL $(cat "$DATA/PG_VERSION"), server is $version: recreating"
    if is_running; then
        as_server_user "$BINDIR/pg_ctl" stop -D "$DATA" -m immediate -w >&2 || true
    fi
    rm -rf "$DATA"
fi
if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"  # a half-made cluster from an interrupted run
    mkdir -p "$DATA"
    [ -n "$RUN_AS" ] && chown "$RUN_AS" "$DATA"
    chmod 700 "$DATA"
    say "creating a throwaway cluster in $DATA"
    as_server_user "$BINDIR/initdb" -D "$DATA" -U "$ROLE" --auth=trust --encoding=UTF8 --no-locale \
        >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    cat >>"$DATA/postgresql.conf" <<'EOF'

# shoal test server (scripts/postgres.sh): loopback only, no unix socket, speed over durability
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
fi

# -- the server --------------------------------------------------------------------------------
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if is_running; then
    port=$(server_port)
    say "server already running in $DATA on port $port"
else
    port=""
    for candidate in $(seq "$PORT" $((PORT + 20))); do
        if ! port_in_use "$candidate"; then
            port=$candidate
            break
        fi
    done
    [ -n "$port" ] || die "ports $PORT-$((PORT + 20)) on 127.0.0.1 are all taken; set SHOAL_PG_PORT"
    say "starting the server on 127.0.0.1:$port (log: $LOG)"
    touch "$LOG" && { [ -z "$RUN_AS" ] || chown "$RUN_AS" "$LOG"; }
    # 9>&-: the server must not inherit (and so hold) the lock of this script
    if ! as_server_user "$BINDIR/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 -o "-p $port" >&2 9>&-; then
        tail -n 30 "$LOG" >&2 || true
        die "the server did not start (log above, in $LOG)"
    fi
fi

ready=""
for _ in $(seq 1 100); do
    if "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres; then
        ready=1
        break
    fi
    sleep 0.1
done
[ -n "$ready" ] || { tail -n 30 "$LOG" >&2 || true; die "the server on port $port does not accept connections"; }

psql_admin() {
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres -tA "$@"
}
exists=$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ||
    die "cannot query the server on port $port"
if [ "$exists" != 1 ]; then
    psql_admin -c "CREATE DATABASE \"$DATABASE\"" >&2 || die "could not create database $DATABASE"
fi

echo "postgresql+psycopg://$ROLE@127.0.0.1:$port/$DATABASE"
