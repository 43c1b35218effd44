#!/usr/bin/env bash
# Builds every image the cluster needs, offline: the static binaries, mesos-rs/mesos and mesos-rs/marathon
# (FROM scratch), mesos-rs/zookeeper:3.8 (from Debian's zookeeper package) and mesos-rs/prometheus (from
# Debian's prometheus package, for compose.yaml's monitoring profile). Idempotent.
# MESOS_RS_TAG (default latest) tags the role images; the compose files read the same variable.
# MESOS_RS_PROFILE=image-dev builds the binaries without LTO (quicker, larger) while iterating.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

log "compiling static binaries (profile $PROFILE)"
cargo build --profile "$PROFILE" --locked -p mesos-master -p mesos-agent -p marathon

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "busybox-static is missing: apt-get install busybox-static" >&2; exit 1; }

log "laying out dist/"
rm -rf dist
mkdir -p dist/rootfs/bin dist/rootfs/tmp dist/rootfs/etc dist/rootfs/var/lib/mesos dist/rootfs/var/log/mesos \
         dist/mesos/usr/sbin dist/marathon/usr/sbin
chmod 1777 dist/rootfs/tmp
cp "$BUSYBOX" dist/rootfs/bin/busybox
for applet in sh ash cat echo ls sleep env sed grep head tail wget nc ps kill mkdir rm cp mv true false date id hostname printf test "[" which; do
    ln -s busybox "dist/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > dist/rootfs/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > dist/rootfs/etc/group
printf 'hosts: files dns\n' > dist/rootfs/etc/nsswitch.conf
install -m 0755 "$RELEASE_DIR/mesos-master" dist/mesos/usr/sbin/mesos-master
install -m 0755 "$RELEASE_DIR/mesos-agent" dist/mesos/usr/sbin/mesos-agent
ln -s mesos-agent dist/mesos/usr/sbin/mesos-slave
install -m 0755 "$RELEASE_DIR/marathon" dist/marathon/usr/sbin/marathon

log "building mesos-rs/mesos and mesos-rs/marathon"
TAG=${MESOS_RS_TAG:-latest}
docker build -q --target mesos -t "mesos-rs/mesos:$TAG" . >/dev/null
docker build -q --target marathon -t "mesos-rs/marathon:$TAG" . >/dev/null

log "building mesos-rs/zookeeper:3.8"
bash docker/zookeeper/build.sh

log "building mesos-rs/prometheus (compose.yaml's monitoring profile)"
bash docker/prometheus/build.sh >/dev/null

docker images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^mesos-rs/' >&2
