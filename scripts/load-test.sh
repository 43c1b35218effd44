#!/usr/bin/env bash
# The load test: builds the role binaries and the `load-test` driver in one profile, then starts a real
# cluster on loopback (ZooKeeper, a master, hollow agents, Marathon) and runs concurrent clients against
# Marathon and the master, printing latency/throughput per request kind. Fails on any 5xx, failed request,
# lost write or app that does not converge.
#
#   scripts/load-test.sh                          # 200 clients for 60 s (release build), as in BENCHMARKS.md
#   scripts/load-test.sh --duration 10 --clients 50
#   LOAD_TEST_PROFILE=dev scripts/load-test.sh    # debug binaries (quick to build, slower to run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

LOAD_PROFILE=${LOAD_TEST_PROFILE:-release}
log "building the roles and the load-test driver (profile $LOAD_PROFILE)"
cargo build --profile "$LOAD_PROFILE" --locked -p mesos-master -p marathon -p integration-tests --bins
case $LOAD_PROFILE in dev) DIR=debug ;; *) DIR=$LOAD_PROFILE ;; esac
BIN=$TARGET_DIR/x86_64-unknown-linux-gnu/$DIR/load-test
"$BIN" "$@"
