#!/usr/bin/env bash
# shellcheck disable=SC2016  # '${Version}' etc. are dpkg-query/Dockerfile syntax
# Build mesos-rs/zookeeper:3.8 from Debian bookworm's `zookeeper` package,
# without any container registry: debootstrap -> chroot apt -> docker import.
#
#   sudo docker/zookeeper/build.sh          # from any cwd
#
# Env:
#   DEBIAN_MIRROR           default: host's apt source for bookworm, else http://deb.debian.org/debian
#   DEBIAN_SECURITY_MIRROR  default: host's apt source for bookworm-security, else
#                           http://deb.debian.org/debian-security; "none" disables it
#   ZOOKEEPER_IMAGE_FORCE=1 rebuild even if the build-hash label matches
#
# The image label mesos-rs.build-hash = sha256(build.sh, docker-entrypoint.sh,
# zookeeper + openjdk-17-jre-headless candidate versions from the host's apt
# lists). If an image with that label exists, this script exits 0 immediately.
set -euo pipefail
umask 022

IMAGE=mesos-rs/zookeeper:3.8
SUITE=bookworm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENTRYPOINT_SRC=$HERE/docker-entrypoint.sh
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T0=$(date +%s)

log() { printf 'zookeeper-image: %s\n' "$*"; }
die() { printf 'zookeeper-image: ERROR: %s\n' "$*" >&2; exit 1; }

# ---- inputs ----------------------------------------------------------------

# First URI of an enabled `deb` source for exactly suite $1 in the host's apt config.
host_apt_uri() {
    local suite=$1
    {
        local f
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -r "$f" ] || continue
            awk -v want="$suite" '
                function flush(   n, s, i, u) {
                    if (enabled && types ~ /(^|[ \t])deb([ \t]|$)/ && uris != "") {
                        n = split(suites, s, /[ \t]+/)
                        for (i = 1; i <= n; i++) if (s[i] == want) { split(uris, u, /[ \t]+/); print u[1] }
                    }
                    types = suites = uris = ""; enabled = 1
                }
                BEGIN { enabled = 1 }
                /^[ \t]*$/ { flush(); next }
                /^[ \t]*#/ { next }
                { key = tolower($1); $1 = ""; sub(/^[ \t]+/, "") }
                key == "types:"   { types = $0 }
                key == "uris:"    { uris = $0 }
                key == "suites:"  { suites = $0 }
                key == "enabled:" { enabled = (tolower($0) != "no") }
                END { flush() }' "$f" || true
        done
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v want="$suite" '$1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == want) print $i }' || true
    } | sed -n '1s:/*$::p'
}

# Candidate versions of zookeeper and the headless JRE per the host's apt lists.
# `apt-cache` costs ~0.5 s without a pkgcache (this host disables it), so the
# answer is cached keyed by the apt lists' names/mtimes/sizes.
package_versions() {
    local cache_dir=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mesos-rs sig file out
    sig=$( { ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null
             cat /etc/apt/preferences /etc/apt/preferences.d/* 2>/dev/null || true; } | sha256sum | cut -c1-16)
    file=$cache_dir/zookeeper-image.versions.$sig
    if [ -s "$file" ]; then cat "$file"; return; fi
    out=$(apt-cache policy zookeeper openjdk-17-jre-headless 2>/dev/null |
          awk '/^[^ ]/ { pkg = $1 } /Candidate:/ { v[pkg] = $2 }
               END { z = v["zookeeper:"]; j = v["openjdk-17-jre-headless:"]
                     if (z == "" || z == "(none)") z = "unknown"
                     if (j == "" || j == "(none)") j = "unknown"
                     print z, j }') || out="unknown unknown"
    if [ "$out" != "unknown unknown" ] && mkdir -p "$cache_dir" 2>/dev/null; then
        rm -f "$cache_dir"/zookeeper-image.versions.* 2>/dev/null || true
        printf '%s\n' "$out" > "$file" 2>/dev/null || true
    fi
    printf '%s\n' "$out"
}

[ -r "$ENTRYPOINT_SRC" ] || die "missing $ENTRYPOINT_SRC"
read -r ZK_VERSION JRE_VERSION < <(package_versions)
BUILD_HASH=$( { sha256sum < "${BASH_SOURCE[0]}"; sha256sum < "$ENTRYPOINT_SRC"
                echo "zookeeper=$ZK_VERSION"; echo "openjdk-17-jre-headless=$JRE_VERSION"; } |
              sha256sum | cut -d' ' -f1)

command -v docker >/dev/null || die "docker not found"
CURRENT_HASH=$(docker image inspect -f '{{index .Config.Labels "mesos-rs.build-hash"}}' "$IMAGE" 2>/dev/null || true)
if [ "$CURRENT_HASH" = "$BUILD_HASH" ] && [ -z "${ZOOKEEPER_IMAGE_FORCE:-}" ]; then
    log "$IMAGE is up to date (build-hash ${BUILD_HASH:0:12}, zookeeper $ZK_VERSION); nothing to do"
    exit 0
fi

# ---- build -----------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
for tool in debootstrap dpkg-deb chroot mount umount tar; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install debootstrap)"
done
[ "$ZK_VERSION" = unknown ] &&
    log "warning: host apt lists know no zookeeper candidate; the hash uses 'unknown'"

MIRROR=${DEBIAN_MIRROR:-$(host_apt_uri "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(host_apt_uri "$SUITE-security")}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SECURITY_MIRROR=${SECURITY_MIRROR%/}
ARCH=$(dpkg --print-architecture)

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/mesos-rs-zookeeper.XXXXXX")
ROOTFS=$WORK/rootfs
cleanup() {
    local rc=$? m
    trap - EXIT INT TERM
    # Unmount anything still mounted below the rootfs (deepest first), then
    # delete without crossing into any filesystem that refused to unmount.
    if [ -d "$ROOTFS" ]; then
        awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts |
            sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    fi
    rm -rf --one-file-system "$WORK" || log "warning: could not fully remove $WORK"
    [ "$rc" = 0 ] || log "FAILED (exit $rc); temp dir removed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_root() {
    chroot "$ROOTFS" /usr/bin/env -i PATH="$CHROOT_PATH" LC_ALL=C.UTF-8 HOME=/root \
        DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
        ${http_proxy:+http_proxy="$http_proxy"} ${https_proxy:+https_proxy="$https_proxy"} \
        "$@"
}
run_logged() {  # run_logged <logname> cmd... ; show the log tail on failure
    local logf=$WORK/$1.log; shift
    if ! "$@" >"$logf" 2>&1; then
        tail -n 40 "$logf" >&2
        die "step failed: $*"
    fi
}

log "building $IMAGE: zookeeper $ZK_VERSION, openjdk $JRE_VERSION, $SUITE/$ARCH from $MIRROR (security: $SECURITY_MIRROR)"
log "debootstrap --variant=minbase $SUITE (log: $WORK/debootstrap.log)"
run_logged debootstrap debootstrap --variant=minbase --arch="$ARCH" --components=main \
    "$SUITE" "$ROOTFS" "$MIRROR"

log "configuring apt/dpkg in the rootfs (no docs/man/locales, no recommends)"
cat > "$ROOTFS/etc/dpkg/dpkg.cfg.d/90-mesos-rs-slim" <<'EOF'
# mesos-rs: keep the image small (copyright files are kept)
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/zookeeper/zooinspector/*
path-exclude=/usr/bin/zooinspector
# JRE parts a ZooKeeper server never uses: javac's ct.sym, CDS archive for heaps >32 GB
path-exclude=/usr/lib/jvm/*/lib/ct.sym
path-exclude=/usr/lib/jvm/*/lib/server/classes_nocoops.jsa
EOF
cat > "$ROOTFS/etc/apt/apt.conf.d/90-mesos-rs" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
EOF
{
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [ "$SECURITY_MIRROR" = none ] || echo "deb $SECURITY_MIRROR $SUITE-security main"
} > "$ROOTFS/etc/apt/sources.list"
rm -f "$ROOTFS/etc/resolv.conf"
cat /etc/resolv.conf > "$ROOTFS/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"
mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"

# Debian's zookeeper Depends on default-jre (X11/GTK/ALSA...). A server only
# needs the headless JRE, so a local stub package provides default-jre.
STUB=mesos-rs-jre-headless-only
mkdir -p "$WORK/stub/DEBIAN"
cat > "$WORK/stub/DEBIAN/control" <<EOF
Package: $STUB
Version: 1.0
Architecture: all
Maintainer: mesos-rs <mesos-rs@localhost>
Priority: optional
Section: java
Depends: default-jre-headless
Provides: default-jre
Description: satisfy default-jre with the headless JRE (mesos-rs container image)
 Lets Debian's zookeeper package install without the GUI parts of the JRE.
EOF
run_logged stub dpkg-deb --root-owner-group -b "$WORK/stub" "$ROOTFS/tmp/$STUB.deb"

log "apt-get update + upgrade (pulls $SUITE-updates/-security fixes)"
run_logged apt-update in_root apt-get -q update
run_logged apt-upgrade in_root apt-get -q -y upgrade
log "installing default-jre-headless + netcat-openbsd"
run_logged apt-jre in_root apt-get -q -y install "/tmp/$STUB.deb" default-jre-headless netcat-openbsd
log "installing zookeeper"
run_logged apt-zookeeper in_root apt-get -q -y install zookeeper
if in_root dpkg-query -W -f '${Status}' openjdk-17-jre 2>/dev/null | grep -q 'ok installed'; then
    die "the non-headless JRE got installed; the default-jre stub did not work"
fi
ZK_INSTALLED=$(in_root dpkg-query -W -f '${Version}' zookeeper)
JRE_INSTALLED=$(in_root dpkg-query -W -f '${Version}' openjdk-17-jre-headless)
[ "$ZK_INSTALLED" = "$ZK_VERSION" ] ||
    log "warning: mirror gave zookeeper $ZK_INSTALLED, host apt lists say $ZK_VERSION"
for jar in zookeeper slf4j-log4j12 log4j-1.2; do
    [ -e "$ROOTFS/usr/share/java/$jar.jar" ] || die "missing /usr/share/java/$jar.jar"
done
JAVA_HOME_DIR=$(dirname "$(dirname "$(readlink -f "$ROOTFS/usr/bin/java")")")
JAVA_HOME_DIR=${JAVA_HOME_DIR#"$ROOTFS"}

log "adding entrypoint, log4j config and /conf /data /datalog"
install -m 0755 "$ENTRYPOINT_SRC" "$ROOTFS/docker-entrypoint.sh"
ln -sf /docker-entrypoint.sh "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$ROOTFS/etc/zookeeper/docker"
cat > "$ROOTFS/etc/zookeeper/docker/log4j.properties" <<'EOF'
# mesos-rs/zookeeper: everything to stdout (docker logs). Level/appender via
# ZOO_LOG4J_PROP (default INFO,CONSOLE); override by mounting /conf/log4j.properties.
zookeeper.root.logger=INFO, CONSOLE
log4j.rootLogger=${zookeeper.root.logger}
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Target=System.out
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
EOF
mkdir -p "$ROOTFS/conf" "$ROOTFS/data" "$ROOTFS/datalog"
# owner zookeeper, group root + g+w: also works with `--user <any uid>:0` (OpenShift style)
in_root chown zookeeper:root /conf /data /datalog
chmod 0775 "$ROOTFS/conf" "$ROOTFS/data" "$ROOTFS/datalog"

log "slimming the rootfs"
in_root apt-get -q clean
umount "$ROOTFS/proc"
rm -f "$ROOTFS/usr/sbin/policy-rc.d" "$ROOTFS/tmp/$STUB.deb"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
       "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
       "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/lintian \
       "$ROOTFS"/usr/share/zookeeper/zooinspector "$ROOTFS"/usr/bin/zooinspector \
       "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* "$ROOTFS"/root/.[!.]* 2>/dev/null || true
for m in proc dev sys; do    # never delete through a (bind) mount
    ! mountpoint -q "$ROOTFS/$m" || die "$ROOTFS/$m is still mounted"
done
mkdir -p "$ROOTFS/usr/share/locale" "$ROOTFS/usr/share/doc"
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$ROOTFS/usr/share/doc" -depth -mindepth 1 ! -type d ! -name copyright -delete
find "$ROOTFS/usr/share/doc" -depth -mindepth 1 -type d -empty -delete
find "$ROOTFS/var/log" -xdev -type f -delete
find "$ROOTFS/dev" -xdev -mindepth 1 -delete     # docker provides /dev
: > "$ROOTFS/etc/resolv.conf"; : > "$ROOTFS/etc/hostname"   # docker bind-mounts both
rm -f "$ROOTFS/etc/machine-id"

log "rootfs is $(du -sh --one-file-system "$ROOTFS" | cut -f1); importing into docker"
OLD_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
changes=(
    --change 'ENTRYPOINT ["/docker-entrypoint.sh"]'
    --change 'CMD ["zkServer.sh", "start-foreground"]'
    --change "ENV PATH=/usr/share/zookeeper/bin:$CHROOT_PATH"
    --change "ENV JAVA_HOME=$JAVA_HOME_DIR LANG=C.UTF-8"
    --change 'ENV ZOO_CONF_DIR=/conf ZOO_DATA_DIR=/data ZOO_DATA_LOG_DIR=/datalog ZOO_HEAP=256m JVMFLAGS='
    --change 'EXPOSE 2181 2888 3888 8080'
    --change 'WORKDIR /data'
    --change 'VOLUME ["/data", "/datalog"]'
    --change 'HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD echo ruok | nc -w 2 127.0.0.1 "${ZOO_PORT:-2181}" | grep -q imok'
    --change "LABEL org.opencontainers.image.title=\"mesos-rs zookeeper\" org.opencontainers.image.description=\"Apache ZooKeeper from Debian $SUITE's zookeeper package (debootstrap minbase + headless JRE)\" org.opencontainers.image.version=\"$ZK_INSTALLED\" org.opencontainers.image.created=\"$CREATED\" org.opencontainers.image.licenses=\"Apache-2.0\" org.opencontainers.image.vendor=\"mesos-rs\" org.opencontainers.image.ref.name=\"3.8\""
    --change "LABEL mesos-rs.build-hash=\"$BUILD_HASH\" mesos-rs.zookeeper-version=\"$ZK_INSTALLED\" mesos-rs.jre-version=\"$JRE_INSTALLED\" mesos-rs.debian-suite=\"$SUITE\""
)
NEW_ID=$(tar --numeric-owner -C "$ROOTFS" -cf - . | docker import "${changes[@]}" - "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true   # only succeeds if now unused/dangling
fi
log "built $IMAGE ${NEW_ID:7:12} ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')) in $(( $(date +%s) - T0 ))s"
