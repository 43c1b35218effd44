#!/usr/bin/env bash
# The one command that runs the whole test suite: unit and integration tests (real binaries, real ZooKeeper
# and Docker on loopback), then the end-to-end walkthrough on the compose cluster and one round of the fault
# tests on the HA cluster.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --no-e2e   # skip the compose walkthrough and the fault tests
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

log "python clients used by the tests (marathon-python, pymesos)"
PYENV=$TARGET_DIR/pyenv
bash scripts/python-clients.sh "$PYENV"
export MESOS_RS_PYTHON=$PYENV/bin/python

# Tests use debug builds (fast to compile); the images use the size-optimised release build.
log "building the binaries the integration tests start"
cargo build --locked --workspace --bins
log "unit and integration tests"
cargo test --locked --workspace
if [ "${1:-}" != "--no-e2e" ]; then
    log "end-to-end walkthrough on the compose cluster"
    bash tests/e2e/walkthrough.sh
    log "fault injection on the HA cluster (one round of every scenario, with the walkthrough's images)"
    bash scripts/faults.sh
fi
