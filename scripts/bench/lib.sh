# Shared helpers for scripts/bench-ingest and scripts/bench-tracker (sourced, not run).
#
# After `bench_init`, these are set: REPO (the crate root, also the cwd), BIN (the release
# binary). `bench_start_server` sets DATA (temp data dir), PGSOCK (socket dir), BASE_URL,
# SERVER_PID; `bench_create_account NAME` sets ACCOUNT_ID and API_KEY.
# `bench_cleanup` (installed as an EXIT trap by bench_init) stops the server with SIGTERM
# and removes the temp dir.
#
# Environment understood by both scripts:
#   LEADLINE_BIN=path   use this binary instead of building target/release/leadline
#   BENCH_NO_BUILD=1    do not run `cargo build --release` (the binary must exist)
#   BENCH_NO_APT=1      never apt-get install missing tools
#   BENCH_KEEP=1        keep the temp data dir (its path is printed)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

APT_UPDATED=0
bench_apt_install() {
  [ "${BENCH_NO_APT:-0}" != 1 ] || die "missing $*; install it (BENCH_NO_APT=1 forbids apt-get)"
  [ "$(id -u)" = 0 ] || die "missing $*; run as root (for apt-get) or install it yourself"
  command -v apt-get >/dev/null 2>&1 || die "missing $* and no apt-get here"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# bench_need CMD PACKAGE: installs PACKAGE when CMD is not on PATH.
bench_need() {
  command -v "$1" >/dev/null 2>&1 || bench_apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# bench_need_pg CMD PACKAGE: the same for Debian's pg_wrapper commands (psql, pgbench), whose
# /usr/bin link exists even when the real binary's package is not installed.
bench_need_pg() {
  "$1" --version >/dev/null 2>&1 || bench_apt_install "$2"
  "$1" --version >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

bench_init() {
  REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  cd "$REPO"
  SERVER_PID=""
  DATA=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  bench_need curl curl
  bench_need python3 python3
  # The server needs the PostgreSQL server binaries (initdb, postgres); on Debian the
  # `postgresql` package also brings psql and pgbench.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    bench_apt_install postgresql
  fi
  bench_need_pg psql postgresql-client
  if [ -n "${LEADLINE_BIN:-}" ]; then
    BIN="$LEADLINE_BIN"
  else
    BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/leadline"
    if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
      command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust, or set LEADLINE_BIN)"
      log "cargo build --release (incremental; the first build takes several minutes)"
      cargo build --release --quiet --bin leadline >&2
    fi
  fi
  [ -x "$BIN" ] || die "no binary at $BIN"
  log "binary: $BIN ($(date -r "$BIN" '+%F %T'))"
}

# Starts `leadline serve` on a fresh embedded cluster in a temp dir.
bench_start_server() {
  DATA="$(mktemp -d /tmp/leadline-bench.XXXXXX)"
  chmod 755 "$DATA" # the cluster runs as `postgres` when we are root
  PGSOCK="$DATA/run"
  log "data dir: $DATA; starting the server (initdb on first run)"
  RUST_LOG="${RUST_LOG:-warn}" LEADLINE_DATA_DIR="$DATA" LEADLINE_BIND=127.0.0.1:0 \
    "$BIN" serve >"$DATA/server.out" 2>"$DATA/server.err" &
  SERVER_PID=$!
  local i
  for i in $(seq 1 600); do
    if grep -q '^listening on ' "$DATA/server.out" 2>/dev/null; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$DATA/server.err" >&2 || true
      SERVER_PID=""
      die "the server exited while starting"
    fi
    sleep 0.1
  done
  BASE_URL="$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$DATA/server.out" | head -1)"
  [ -n "$BASE_URL" ] || die "the server did not print its address within 60 s"
  log "server pid $SERVER_PID at $BASE_URL"
}

bench_create_account() {
  local out
  out="$(RUST_LOG=warn LEADLINE_DATA_DIR="$DATA" "$BIN" account create --name "$1")"
  ACCOUNT_ID="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["account_id"])')"
  API_KEY="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
  log "account $ACCOUNT_ID created"
}

# psql against the bench cluster; extra args are passed on.
bench_psql() {
  psql -X -v ON_ERROR_STOP=1 -h "$PGSOCK" -p 5432 -U postgres -d leadline "$@"
}

bench_cleanup() {
  local rc=$?
  set +e
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping the server (SIGTERM, pid $SERVER_PID)"
    kill -TERM "$SERVER_PID"
    local i
    for i in $(seq 1 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server still running after 30 s: SIGKILL"
      kill -KILL "$SERVER_PID"
    fi
    wait "$SERVER_PID" 2>/dev/null
  fi
  if [ -n "${DATA:-}" ] && [ -f "$DATA/pg/postmaster.pid" ]; then
    # The server normally stops its cluster; if it could not, stop it here.
    local pgpid
    pgpid="$(head -1 "$DATA/pg/postmaster.pid" 2>/dev/null)"
    if [ -n "$pgpid" ] && kill -0 "$pgpid" 2>/dev/null; then
      log "stopping the leftover cluster (postmaster pid $pgpid)"
      kill -INT "$pgpid"
      for i in $(seq 1 300); do kill -0 "$pgpid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  if [ -n "${DATA:-}" ] && [ -d "$DATA" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
      log "kept $DATA"
    else
      rm -rf "$DATA"
    fi
  fi
  exit "$rc"
}
