#!/usr/bin/env bash
# `npm run bench`: bootstrap, start the local stack (or reuse it), build, run the benchmark, and
# stop the servers this command started. Not part of `npm test`; do not run both at once (they
# share the platform's queues on the broker).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
mkdir -p .run
record="$(mktemp "$ROOT/.run/bench-stack.XXXXXX")"
trap 'bash scripts/stack.sh down --record "$record"; rm -f "$record"' EXIT
bash scripts/stack.sh up --record "$record"
npm run -s build >/dev/null
node --import tsx scripts/bench/bench.ts "$@"
