#!/usr/bin/env bash
# `npm test` (and `npm run test:chaos`, with --chaos): bootstrap, start what the suite needs (RabbitMQ and FerretDB; the suite starts its own
# Temporal dev server through @temporalio/testing), type-check and lint everything, run jest, and stop
# exactly the servers this run started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/stack-session.sh
started_at=$SECONDS

start_stack_session test "rabbitmq ferretdb"
# For the docker-compose.yml check only; the suite skips that check, saying so, where this fails.
if ! command -v docker-compose >/dev/null; then
  bash scripts/stack.sh apt-install docker-compose || echo "[test] docker-compose not installed" >&2
fi
# For the Temporal UI check only (Debian's Chromium, driven by playwright-core; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  bash scripts/stack.sh apt-install chromium || echo "[test] chromium not installed" >&2
fi
bootstrap_seconds=$((SECONDS - started_at))

echo "[test] type-checking (tsc --noEmit)" >&2
npx tsc -p tsconfig.json --noEmit
echo "[test] lint, format and layer rules (npm run lint)" >&2
npm run -s lint
if [ "${1:-}" = "--chaos" ]; then
  shift
  # The fault-injection suites run servers of their own (STACK_NAME=chaos) and kill them at will.
  npx jest -c jest.chaos.config.js "$@"
else
  npx jest "$@"
fi
echo "[test] bootstrap ${bootstrap_seconds}s, type-check and tests $((SECONDS - started_at - bootstrap_seconds))s" >&2
