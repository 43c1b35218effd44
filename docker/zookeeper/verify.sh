#!/usr/bin/env bash
# Smoke test for mesos-rs/zookeeper:3.8 (build it first with build.sh):
#   1. single node on 127.0.0.1:<free port>: ruok -> imok, create/get a znode from the host
#   2. 3-node ensemble (ZOO_MY_ID/ZOO_SERVERS) on a user-defined network:
#      1 leader + 2 followers, stop the leader -> the other two still serve
#   3. `docker stop` of a node takes < 5 s
# Everything it creates carries the label mesos-rs.test=zookeeper-helper and is
# removed on exit (pass or fail), anonymous volumes included.
set -euo pipefail

IMAGE=${IMAGE:-mesos-rs/zookeeper:3.8}
LABEL=mesos-rs.test=zookeeper-helper
PFX=zkv$$
NET=$PFX-net
ZKCLI=/usr/share/zookeeper/bin/zkCli.sh

log() { printf 'zookeeper-verify: %s\n' "$*"; }
fail() { printf 'zookeeper-verify: FAIL: %s\n' "$*" >&2; exit 1; }

cleanup() {
    local rc=$? ids
    trap - EXIT
    ids=$(docker ps -aq --filter "label=$LABEL" --filter "name=^$PFX-")
    # shellcheck disable=SC2086  # one id per word
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
    docker network rm "$NET" >/dev/null 2>&1 || true
    if [ "$rc" = 0 ]; then log "PASS"; else log "FAILED (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# four-letter word over bash's /dev/tcp (the host needs no nc)
zk4() {
    local out
    exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
    printf '%s' "$2" >&3
    out=$(timeout 3 cat <&3 2>/dev/null || true)
    exec 3<&-
    printf '%s\n' "$out"
}
hostport() { docker port "$1" 2181/tcp | sed -n '1s/.*://p'; }
mode() { zk4 "$(hostport "$1")" srvr 2>/dev/null | sed -n 's/^Mode: //p'; }
zkcli() {  # zkcli <container> <zkCli args...>: the host's zkCli.sh, else the image's
    local c=$1; shift
    if [ -x "$ZKCLI" ]; then
        "$ZKCLI" -server "127.0.0.1:$(hostport "$c")" "$@" 2>&1
    else
        docker exec "$c" zkCli.sh -server 127.0.0.1:2181 "$@" 2>&1
    fi
}
wait_for() {  # wait_for <seconds> <cmd...>
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}
is_imok() { [ "$(zk4 "$(hostport "$1")" ruok 2>/dev/null)" = imok ]; }
all_serving() { local c; for c in "$@"; do [ -n "$(mode "$c")" ] || return 1; done; }

docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "$IMAGE not found; run build.sh first"

# ---- 1. single node ----------------------------------------------------------
log "single node"
docker run -d --name "$PFX-single" --label "$LABEL" -p 127.0.0.1::2181 "$IMAGE" >/dev/null
t0=$(date +%s)
wait_for 60 is_imok "$PFX-single" || { docker logs "$PFX-single" | tail -20; fail "no imok"; }
log "  ruok -> imok on 127.0.0.1:$(hostport "$PFX-single") after $(( $(date +%s) - t0 ))s"
zkcli "$PFX-single" create /mesos-rs-verify hello-zk | grep -q 'Created /mesos-rs-verify' || fail "create"
[ "$(zkcli "$PFX-single" get /mesos-rs-verify | tail -n 1)" = hello-zk ] || fail "get"
log "  zkCli create/get /mesos-rs-verify = hello-zk"
wait_for 40 sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $PFX-single)\" = healthy ]" ||
    fail "HEALTHCHECK never reported healthy"
log "  docker HEALTHCHECK: healthy"
t0=$(date +%s%N); docker stop "$PFX-single" >/dev/null; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "  docker stop took ${ms} ms"
[ "$ms" -lt 5000 ] || fail "docker stop took ${ms} ms"
docker rm -v "$PFX-single" >/dev/null

# ---- 2. 3-node ensemble --------------------------------------------------------
log "3-node ensemble on network $NET"
docker network create --label "$LABEL" "$NET" >/dev/null
SERVERS="server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181 server.3=zoo3:2888:3888;2181"
nodes=()
for n in 1 2 3; do
    docker run -d --name "$PFX-zoo$n" --hostname "zoo$n" --network "$NET" --network-alias "zoo$n" \
        --label "$LABEL" -p 127.0.0.1::2181 -e ZOO_MY_ID=$n -e "ZOO_SERVERS=$SERVERS" "$IMAGE" >/dev/null
    nodes+=("$PFX-zoo$n")
done
wait_for 90 all_serving "${nodes[@]}" || fail "ensemble did not form"
leaders=0 followers=0 leader=
for c in "${nodes[@]}"; do
    m=$(mode "$c"); log "  $c: $m"
    case $m in leader) leaders=$((leaders + 1)); leader=$c ;; follower) followers=$((followers + 1)) ;; esac
done
[ "$leaders" = 1 ] && [ "$followers" = 2 ] || fail "expected 1 leader + 2 followers"
zkcli "${nodes[0]}" create /ensemble v1 | grep -q 'Created /ensemble' || fail "create on ${nodes[0]}"
[ "$(zkcli "${nodes[2]}" get /ensemble | tail -n 1)" = v1 ] || fail "read back on ${nodes[2]}"
log "  wrote /ensemble via ${nodes[0]}, read it via ${nodes[2]}"

t0=$(date +%s%N); docker stop "$leader" >/dev/null; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "  stopped leader $leader in ${ms} ms"
[ "$ms" -lt 5000 ] || fail "docker stop took ${ms} ms"
rest=(); for c in "${nodes[@]}"; do [ "$c" = "$leader" ] || rest+=("$c"); done
wait_for 60 all_serving "${rest[@]}" || fail "the remaining two did not re-form a quorum"
for c in "${rest[@]}"; do log "  $c: $(mode "$c")"; done
zkcli "${rest[0]}" create /after-failover v2 | grep -q 'Created /after-failover' || fail "write after failover"
[ "$(zkcli "${rest[1]}" get /ensemble | tail -n 1)" = v1 ] || fail "read after failover"
log "  quorum of 2 serves reads and writes"
