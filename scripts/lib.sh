# Shared helpers for the scripts in this folder (sourced, not run).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# MESOS_RS_PROFILE picks the cargo profile of the image binaries: `release` (default, small and fast) or
# `image-dev` (no LTO: builds in a fraction of the time, for iterating on images).
PROFILE=${MESOS_RS_PROFILE:-release}
RELEASE_DIR=$TARGET_DIR/x86_64-unknown-linux-gnu/$PROFILE

# `docker compose` (v2) when present, else `docker-compose` (v1).
compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    else
        docker-compose "$@"
    fi
}

log() { printf '==> %s\n' "$*" >&2; }
