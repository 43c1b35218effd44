#!/usr/bin/env bash
# mesos-bench: builds every role and the bench in release, then runs the chosen scenarios on loopback (it
# starts ZooKeeper, the roles, a hollow-agent fleet and, for `swarm`, a local Docker Swarm that it leaves again)
# and prints the results table (Markdown) on stdout; progress goes to stderr.
#
#   scripts/bench.sh --quick all                  # a small run, a few minutes
#   scripts/bench.sh all                          # the full run BENCHMARKS.md reports
#   scripts/bench.sh --agents 1000 --tasks 1000,10000 launch
#   MESOS_BENCH_VERBOSE=1 scripts/bench.sh ...    # INFO logs kept in $TMPDIR/mesos-bench-logs/
#
# The footprint scenario reads the role images' sizes (mesos-rs/mesos, mesos-rs/marathon; tag from
# MESOS_RS_TAG, default latest): build them first with scripts/build-images.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [ $# -eq 0 ]; then
    set -- --quick all
fi
log "building the roles and mesos-bench (release)"
cargo build --release --locked --workspace --bins
"$TARGET_DIR/x86_64-unknown-linux-gnu/release/mesos-bench" "$@"
