#!/usr/bin/env bash
# The one command that builds everything and brings the cluster up: ZooKeeper, a master, two agents and
# Marathon (master UI on :5050, Marathon on :8080). `scripts/down.sh` stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
bash scripts/build-images.sh
compose -f compose.yaml up -d "$@"
log "waiting for the cluster"
for _ in $(seq 1 90); do
    if curl -fsS http://127.0.0.1:8080/ping >/dev/null 2>&1 && curl -fsS http://127.0.0.1:5050/health >/dev/null 2>&1; then
        log "up: Mesos http://localhost:5050  Marathon http://localhost:8080"
        exit 0
    fi
    sleep 2
done
compose -f compose.yaml ps
echo "the cluster did not become healthy in 180 s" >&2
exit 1
