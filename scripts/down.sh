#!/usr/bin/env bash
# Stops the compose cluster and removes its containers, volumes and the task containers agents started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
compose -f compose.yaml down -v --remove-orphans
ids=$(docker ps -aq --filter label=mesos-rs.agent)
[ -z "$ids" ] || docker rm -f $ids >/dev/null
