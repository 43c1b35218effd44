#!/usr/bin/env bash
# Fault-injection tests on the HA cluster (compose.ha.yaml as project mesos-rs-faults): starts the cluster,
# runs the scenarios of tests/faults/faults.py, prints a table of scenario, result and recovery time, and
# removes the cluster afterwards, pass or fail.
#
#   scripts/faults.sh                                   # all eight scenarios once
#   scripts/faults.sh --repeat 3                        # each three times in a row
#   scripts/faults.sh master-kill agent-partition      # some of them
#
# MESOS_RS_TAG picks the role images (build them first: scripts/build-images.sh). Other options
# (--timeout, --results FILE) go to faults.py.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

PROJECT=mesos-rs-faults
TAG=${MESOS_RS_TAG:-latest}
for image in "mesos-rs/mesos:$TAG" "mesos-rs/marathon:$TAG" mesos-rs/zookeeper:3.8; do
    docker image inspect "$image" >/dev/null 2>&1 || { echo "missing image $image: run scripts/build-images.sh" >&2; exit 1; }
done

project() { compose -f compose.ha.yaml -p "$PROJECT" "$@"; }
teardown() {
    log "removing the $PROJECT cluster"
    project down -v --remove-orphans -t 2 >/dev/null 2>&1 || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

teardown
log "starting the HA cluster (images tagged $TAG)"
project up -d >/dev/null
deadline=$((SECONDS + 180))
until [ -z "$(project ps | grep -E 'starting|unhealthy|Exit' || true)" ] && [ "$(project ps -q | wc -l)" -eq 11 ]; do
    [ $SECONDS -lt $deadline ] || { project ps >&2; echo "the cluster did not become healthy" >&2; exit 1; }
    sleep 2
done
log "cluster healthy"

# The compose command faults.py uses to find containers, as one word list.
if docker compose version >/dev/null 2>&1; then cmd="docker compose"; else cmd="docker-compose"; fi
python3 tests/faults/faults.py --compose "$cmd -f compose.ha.yaml -p $PROJECT" "$@"
