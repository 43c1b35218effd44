#!/usr/bin/env bash
# Builds the local `python:3` stand-in image used by the tutorial's basic-3 app (no registry is reachable).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp /bin/busybox "$here/python3-standin/python3" "$here/python3-standin/Dockerfile" "$context/"
docker build -q --label mesos-rs.test=1 -t python:3 "$context" >/dev/null
echo "built python:3 stand-in" >&2
