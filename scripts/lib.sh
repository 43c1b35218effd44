# Shared helpers for the scripts in this folder (sourced, not run).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
RELEASE_DIR=$TARGET_DIR/x86_64-unknown-linux-gnu/release

# `docker compose` (v2) when present, else `docker-compose` (v1).
compose() {
    if docker compose version >/dev/null 2>&1; then
        docker compose "$@"
    else
        docker-compose "$@"
    fi
}

log() { printf '==> %s\n' "$*" >&2; }
