#!/usr/bin/env bash
# `npm run bench`: bootstrap, start a stack of the bench's own from empty data, build, run the
# benchmark, and stop that stack.
# Its own stack (STACK_NAME=bench: its own ports, .run/bench and .data/bench), emptied at every run:
# the Temporal dev server's database keeps every execution a run leaves, and on a grown one a
# transfer cost the server about a quarter more CPU (docs/performance.md), so figures taken on a
# used stack would depend on its past. It shares no server with `npm run dev`, `npm test` or the
# chaos suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export STACK_NAME=bench STACK_TEMPORAL_PORT=7253 STACK_TEMPORAL_UI_PORT=8253 \
  STACK_MONGO_PORT=27019 STACK_AMQP_PORT=5674 STACK_POSTGRES_PORT=5436
export TEMPORAL_ADDRESS="127.0.0.1:$STACK_TEMPORAL_PORT"
export RABBITMQ_URL="amqp://guest:guest@127.0.0.1:$STACK_AMQP_PORT"
# A DATABASE_URL naming another host is a real MongoDB to measure on; else the stack's FerretDB.
source scripts/lib/local-url.sh
if is_local_url "${DATABASE_URL:-}"; then
  export DATABASE_URL="mongodb://127.0.0.1:$STACK_MONGO_PORT/mint_wallet"
fi
bash scripts/stack.sh down
rm -rf ".data/$STACK_NAME"
source scripts/lib/stack-session.sh
start_stack_session bench
npm run -s build >/dev/null
node --import tsx scripts/bench/bench.ts "$@"
