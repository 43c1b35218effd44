#!/usr/bin/env bash
# shellcheck disable=SC2016  # '${Version}' is dpkg-query syntax
# Build mesos-rs/prometheus:<version> from Debian's `prometheus` package as installed on this host (the
# package that also provides promtool; .ci/run installs it), without any container registry: the package's
# server binary, the C library it links, its web UI and console files are laid out in a small rootfs, then
# `docker import`ed.
#
#   docker/prometheus/build.sh              # from any cwd; prints the image name last
#
# Env:
#   PROMETHEUS_IMAGE_FORCE=1   rebuild even if the build-hash label matches
#
# The image is tagged with the package's upstream major.minor (Debian bookworm: 2.42). Its label
# mesos-rs.build-hash = sha256(build.sh, installed prometheus and libc6 versions); if an image with that
# label exists, this script exits 0 at once. The configuration is not baked in: compose.yaml mounts
# docker/prometheus/prometheus.yml at /etc/prometheus/prometheus.yml.
set -euo pipefail
umask 022

log() { printf 'prometheus-image: %s\n' "$*" >&2; }
die() { printf 'prometheus-image: ERROR: %s\n' "$*" >&2; exit 1; }

installed() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || true; }

PROM_VERSION=$(installed prometheus)
[ -n "$PROM_VERSION" ] || die "Debian's prometheus package is not installed (apt-get install --no-install-recommends prometheus)"
LIBC_VERSION=$(installed libc6)
# 2.42.0+ds-5+deb12u1 -> 2.42
TAG=$(printf '%s\n' "$PROM_VERSION" | sed -E 's/^([0-9]+:)?([0-9]+\.[0-9]+).*/\2/')
IMAGE=mesos-rs/prometheus:$TAG
BUILD_HASH=$( { sha256sum < "${BASH_SOURCE[0]}"; echo "prometheus=$PROM_VERSION"; echo "libc6=$LIBC_VERSION"; } |
              sha256sum | cut -d' ' -f1)

command -v docker >/dev/null || die "docker not found"
CURRENT_HASH=$(docker image inspect -f '{{index .Config.Labels "mesos-rs.build-hash"}}' "$IMAGE" 2>/dev/null || true)
if [ "$CURRENT_HASH" = "$BUILD_HASH" ] && [ -z "${PROMETHEUS_IMAGE_FORCE:-}" ]; then
    log "$IMAGE is up to date (build-hash ${BUILD_HASH:0:12}, prometheus $PROM_VERSION); nothing to do"
    echo "$IMAGE"
    exit 0
fi

T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mesos-rs-prometheus.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
log "building $IMAGE from prometheus $PROM_VERSION (libc6 $LIBC_VERSION)"

mkdir -p "$ROOTFS"/{usr/bin,etc/prometheus,usr/share/prometheus,prometheus,tmp}
chmod 1777 "$ROOTFS/tmp"
install -m 0755 /usr/bin/prometheus "$ROOTFS/usr/bin/prometheus"
# The dynamic loader and the libraries the binary links (only libc on Debian), at their own paths.
for lib in $(ldd /usr/bin/prometheus | grep -oE '/[^ ]+'); do
    mkdir -p "$ROOTFS$(dirname "$lib")"
    cp -L "$lib" "$ROOTFS$lib"
done
# Web UI and console files, symlinks to Debian's JavaScript packages resolved (moment-timezone's 200 MB of raw
# zone data are left out: the UI loads the prebuilt bundles).
tar -C /usr/share/prometheus -chf - --exclude='web/static/moment-timezone/data' web |
    tar -C "$ROOTFS/usr/share/prometheus" -xf -
tar -C /etc/prometheus -chf - consoles console_libraries | tar -C "$ROOTFS/etc/prometheus" -xf -
printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOTFS/etc/group"
printf 'hosts: files dns\n' > "$ROOTFS/etc/nsswitch.conf"
chown 65534:65534 "$ROOTFS/prometheus"

changes=(
    --change 'ENTRYPOINT ["/usr/bin/prometheus"]'
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.console.libraries=/etc/prometheus/console_libraries", "--web.console.templates=/etc/prometheus/consoles"]'
    --change 'USER 65534:65534'
    --change 'WORKDIR /prometheus'
    --change 'EXPOSE 9090'
    --change "LABEL org.opencontainers.image.title=\"mesos-rs prometheus\" org.opencontainers.image.description=\"Prometheus server from Debian's prometheus package\" org.opencontainers.image.version=\"$PROM_VERSION\" org.opencontainers.image.licenses=\"Apache-2.0\" org.opencontainers.image.vendor=\"mesos-rs\""
    --change "LABEL mesos-rs.build-hash=\"$BUILD_HASH\" mesos-rs.prometheus-version=\"$PROM_VERSION\""
)
OLD_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
NEW_ID=$(tar --numeric-owner -C "$ROOTFS" -cf - . | docker import "${changes[@]}" - "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true   # only succeeds if now unused
fi
log "built $IMAGE ${NEW_ID:7:12} ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')) in $(( $(date +%s) - T0 ))s"
echo "$IMAGE"
