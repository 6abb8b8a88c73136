#!/usr/bin/env bash
# `npm run dev`: bootstrap, start the embedded stack, build, and run the service in the foreground.
# Ctrl-C stops the service, then the servers this command started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/stack-session.sh
start_stack_session dev

# Without an auth service nearby, the read API verifies tokens with a local development key pair.
if [ -z "${JWKS_ENDPOINT:-}" ] && [ -z "${JWT_PUBLIC_KEY:-}" ]; then
  node scripts/dev-keys.js >&2
  JWT_PUBLIC_KEY="$(cat .run/dev-jwt/public.pem)"
  export JWT_PUBLIC_KEY
fi

echo "[dev] building (tsc and the workflow bundle)" >&2
npm run -s build >&2

cat >&2 <<BANNER
[dev] wallet service starting
      API          http://localhost:${PORT:-4003}  (GET /health, /ready, /metrics)
      Temporal UI  http://localhost:8233
      Temporal     ${TEMPORAL_ADDRESS:-127.0.0.1:7233}
      RabbitMQ     ${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
      MongoDB      ${DATABASE_URL:-mongodb://127.0.0.1:27017/mint_wallet}
BANNER
# exec: the background job is the service itself, which the exit handler signals.
run_service() {
  NODE_ENV="${NODE_ENV:-development}" TEMPORAL_WORKFLOW_BUNDLE="${TEMPORAL_WORKFLOW_BUNDLE:-dist/workflow-bundle.js}" \
    exec node --max-semi-space-size=8 --max-old-space-size=384 dist/src/main.js
}
# On a terminal, readable log lines; piped or redirected, the JSON lines themselves (LOG_PRETTY=0
# forces them). The formatter ignores Ctrl-C, so that it prints the service's last lines as it stops.
if [ -t 1 ] && [ "${LOG_PRETTY:-1}" != 0 ]; then
  run_service > >(trap '' INT; exec node_modules/.bin/pino-pretty --translateTime 'SYS:HH:MM:ss.l' --ignore pid,hostname,service) 2>&1 &
else
  run_service &
fi
service_pid=$!
# The service may have stopped already (a start-up failure): the servers must still be stopped.
trap 'kill -TERM "$service_pid" 2>/dev/null || true; wait "$service_pid" || true; stop_stack_session' EXIT
trap 'exit 0' INT TERM
wait "$service_pid"
