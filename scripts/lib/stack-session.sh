# Sourced by dev.sh, test.sh and bench.sh (from the repository root): bootstrap the tools, start the
# servers of the local stack that are not already up, and on exit stop exactly those.
# Usage: start_stack_session <name> ["<servers>"]   (default: STACK_SERVICES, else all three)
start_stack_session() {
  bash scripts/bootstrap.sh
  mkdir -p .run
  STACK_SESSION_RECORD="$(mktemp "$PWD/.run/$1-stack.XXXXXX")"
  trap stop_stack_session EXIT
  STACK_SERVICES="${2:-${STACK_SERVICES:-}}" bash scripts/stack.sh up --record "$STACK_SESSION_RECORD"
}

stop_stack_session() {
  bash scripts/stack.sh down --record "$STACK_SESSION_RECORD"
  rm -f "$STACK_SESSION_RECORD"
}
