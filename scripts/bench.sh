#!/usr/bin/env bash
# `npm run bench`: bootstrap, start the local stack (or reuse it), build, run the benchmark, and
# stop the servers this command started. Not part of `npm test`; do not run both at once (they
# share the platform's queues on the broker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/stack-session.sh
start_stack_session bench
npm run -s build >/dev/null
node --import tsx scripts/bench/bench.ts "$@"
