#!/usr/bin/env bash
# End-to-end: the tutorial, driven as a user would with docker and curl.
#
# 1. The compose route: brings the compose cluster up, checks the master sees both agents and the marathon
#    framework, posts basic-0 (command app) and basic-3 (Docker app on hostPort 31000) exactly as the tutorial
#    does, reads basic-0's sandbox stdout, calls basic-3 from the host, stops the agent running basic-0 and
#    waits for the task to come back on the other agent.
# 2. The per-host route: the tutorial's `docker run` commands with HOST_IP=127.0.0.1 (so every role uses the
#    host network; the tutorial's Marathon `-p 8080:8080` and bridged agent become `--net=host`, since a
#    bridged container cannot reach the host's loopback).
# 3. The packaged-config route: a master configured only by files mounted at /etc/mesos-master/{ip,quorum,
#    work_dir,cluster} and /etc/mesos/zk.
# The compose route runs with the `monitoring` profile: its Prometheus must report every role's target up, and
# promtool must accept every role's /metrics.
# Everything it starts is removed on exit, pass or fail.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$ROOT"
E2E=tests/e2e
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

PER_HOST_LABEL=mesos-rs.test=walkthrough
TAG=${MESOS_RS_TAG:-latest}
# Every compose command (up, logs, stop, down) includes the Prometheus of the monitoring profile.
export COMPOSE_PROFILES=monitoring
cleanup() {
    compose -f compose.yaml logs --no-color > "${E2E_LOG:-/tmp/mesos-rs-e2e.log}" 2>&1 || true
    compose -f compose.yaml down -v --remove-orphans >/dev/null 2>&1 || true
    ids=$(docker ps -aq --filter "label=$PER_HOST_LABEL")
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
    rm -rf "${PACKAGED_ETC:-/nonexistent}"
    ids=$(docker ps -aq --filter label=mesos-rs.agent)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    rm -rf /var/lib/mesos-rs/agent-1 /var/lib/mesos-rs/agent-2
}

# json URL PYTHON-EXPRESSION: evaluates the expression with `d` bound to the JSON at URL; prints the result.
json() {
    curl -fsS --max-time 5 "$1" 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)" 2>/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND every second until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq 1 "$seconds"); do
        if "$@" >/dev/null 2>&1; then
            ok "$what"
            return 0
        fi
        sleep 1
    done
    not_ok "$what (after ${seconds}s)"
    return 1
}

finish() {
    cleanup
    echo "walkthrough: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
trap 'finish; exit $?' EXIT

[ "${SKIP_IMAGE_BUILD:-}" = 1 ] || bash scripts/build-images.sh
bash "$E2E/build-standin.sh"
cleanup
compose -f compose.yaml up -d >/dev/null 2>&1 || { not_ok "compose up"; exit 1; }
ok "compose up"

wait_for 120 "master /health answers 200" curl -fsS --max-time 2 http://127.0.0.1:5050/health
two_agents() { [ "$(json http://127.0.0.1:5050/master/slaves 'len(d["slaves"])')" = 2 ]; }
marathon_registered() { [ "$(json http://127.0.0.1:5050/master/frameworks '[f["name"] for f in d["frameworks"]]')" = "['marathon']" ]; }
pong() { [ "$(curl -fsS --max-time 2 http://127.0.0.1:8080/ping)" = pong ]; }
wait_for 120 "/master/slaves lists both agents" two_agents
wait_for 120 "/master/frameworks lists marathon" marathon_registered
wait_for 60 "marathon /ping answers pong" pong

# basic-0, posted exactly as the tutorial does.
code=$(curl -s -o /tmp/mesos-rs-basic-0.json -w '%{http_code}' -X POST http://127.0.0.1:8080/v2/apps -d @"$E2E/basic-0.json" -H "Content-type: application/json")
if [ "$code" = 201 ] && python3 - /tmp/mesos-rs-basic-0.json <<'PY'
import json, sys
app = json.load(open(sys.argv[1]))
expected = {"id": "/basic-0", "instances": 1, "cpus": 0.1, "mem": 10, "disk": 0, "backoffSeconds": 1, "backoffFactor": 1.15,
            "maxLaunchDelaySeconds": 3600, "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
            "tasksStaged": 0, "tasksRunning": 0, "requirePorts": False, "ports": [0], "executor": "", "tasks": []}
for key, value in expected.items():
    assert app.get(key) == value, (key, app.get(key), value)
assert len(app["deployments"]) == 1 and "version" in app
PY
then ok "POST basic-0 answers 201 with the tutorial's app JSON"; else not_ok "POST basic-0 answers 201 with the tutorial's app JSON (got $code)"; fi

basic0_running() { [ "$(json http://127.0.0.1:8080/v2/apps/basic-0 'd["app"]["tasksRunning"]')" = 1 ]; }
wait_for 60 "basic-0 runs" basic0_running

# Read basic-0's stdout through the agent's /files API, as the master UI's sandbox browser does.
sandbox_stdout() {
    local agent_port=$1 dir
    dir=$(json "http://127.0.0.1:$agent_port/state" '[e["directory"] for f in d["frameworks"] for e in f["executors"] if e["id"].startswith("basic-0.")][0]') || return 1
    curl -fsS --max-time 5 "http://127.0.0.1:$agent_port/files/read?path=$dir/stdout&offset=0" | grep -q "Hello Marathon"
}
basic0_agent_port() {
    for port in 5051 5052; do
        if [ "$(json "http://127.0.0.1:$port/state" 'sum(1 for f in d["frameworks"] for e in f["executors"] if e["id"].startswith("basic-0."))')" = 1 ]; then
            echo "$port"
            return 0
        fi
    done
    return 1
}
# Monitoring: Prometheus scrapes every role; promtool accepts what each serves.
targets_up() {
    [ "$(json http://127.0.0.1:9090/api/v1/targets 'sorted((t["labels"]["job"], t["health"]) for t in d["data"]["activeTargets"])')" = \
      "[('marathon', 'up'), ('mesos-agent', 'up'), ('mesos-agent', 'up'), ('mesos-master', 'up'), ('prometheus', 'up')]" ]
}
wait_for 90 "monitoring: Prometheus reports every target up (/api/v1/targets)" targets_up
promtool_accepts() {
    local url out
    for url in http://127.0.0.1:5050/metrics http://127.0.0.1:5051/metrics http://127.0.0.1:5052/metrics \
        http://127.0.0.1:8080/metrics/prometheus; do
        out=$(curl -fsS --max-time 5 "$url" | promtool check metrics 2>&1) && [ -z "$out" ] || { echo "$url: $out"; return 1; }
    done
}
if out=$(promtool_accepts); then ok "monitoring: promtool accepts every role's /metrics"; else not_ok "monitoring: promtool accepts every role's /metrics: $out"; fi

port=$(basic0_agent_port) || port=5051
wait_for 30 "basic-0 prints 'Hello Marathon' in its sandbox stdout" sandbox_stdout "$port"

# basic-3: a Docker app on hostPort 31000, answered from the host.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8080/v2/apps -d @"$E2E/basic-3.json" -H "Content-type: application/json")
[ "$code" = 201 ] && ok "POST basic-3 answers 201" || not_ok "POST basic-3 answers 201 (got $code)"
wait_for 90 "basic-3 answers on http://localhost:31000/" sh -c 'curl -fsS --max-time 2 http://127.0.0.1:31000/ | grep -q "Hello from basic-3"'
wait_for 10 "docker ps names basic-3's container mesos-<agentId>.<containerId>" sh -c "docker ps --format '{{.Names}}' | grep -Eq '^mesos-[0-9a-f-]+-S[0-9]+\.[0-9a-f-]+$'"

# The agent running basic-0 dies: the task comes back on the other agent.
port=$(basic0_agent_port) || port=5051
if [ "$port" = 5051 ]; then victim=mesos-agent-1; survivor=5052; else victim=mesos-agent-2; survivor=5051; fi
compose -f compose.yaml stop "$victim" >/dev/null 2>&1
relaunched() { [ "$(basic0_agent_port)" = "$survivor" ] && basic0_running; }
wait_for 120 "basic-0 is relaunched on the surviving agent after $victim dies" relaunched

# ----- 2. the per-host route ---------------------------------------------------------------------------------
compose -f compose.yaml down -v --remove-orphans >/dev/null 2>&1
ids=$(docker ps -aq --filter label=mesos-rs.agent)
[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
HOST_IP=127.0.0.1
run() { docker run --label "$PER_HOST_LABEL" "$@" >/dev/null; }
run -d --net=host mesos-rs/zookeeper:3.8
zk_up() { [ "$(exec 3<>/dev/tcp/127.0.0.1/2181 && echo ruok >&3 && cat <&3)" = imok ]; }
wait_for 60 "per-host: ZooKeeper answers" zk_up
run --name mesos-rs-e2e-master --net="host" \
    -e "MESOS_HOSTNAME=${HOST_IP}" \
    -e "MESOS_IP=${HOST_IP}" \
    -e "MESOS_ZK=zk://${HOST_IP}:2181/mesos" \
    -e "MESOS_PORT=5050" \
    -e "MESOS_LOG_DIR=/var/log/mesos" \
    -e "MESOS_QUORUM=1" \
    -e "MESOS_REGISTRY=in_memory" \
    -e "MESOS_WORK_DIR=/var/lib/mesos" \
    -d \
    "mesos-rs/mesos:$TAG"
run \
    -d \
    --net=host \
    "mesos-rs/marathon:$TAG" --master zk://${HOST_IP}:2181/mesos --zk zk://${HOST_IP}:2181/marathon
run -d \
    --net=host \
    --name mesos_slave_1 \
    --entrypoint="mesos-slave" \
    -e "MESOS_MASTER=zk://${HOST_IP}:2181/mesos" \
    -e "MESOS_LOG_DIR=/var/log/mesos" \
    -e "MESOS_LOGGING_LEVEL=INFO" \
    "mesos-rs/mesos:$TAG"
one_agent() { [ "$(json http://127.0.0.1:5050/master/slaves 'len(d["slaves"])')" = 1 ]; }
wait_for 60 "per-host: the agent registers" one_agent
wait_for 60 "per-host: marathon registers" marathon_registered
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8080/v2/apps -d @"$E2E/basic-0.json" -H "Content-type: application/json")
[ "$code" = 201 ] && ok "per-host: POST basic-0 answers 201" || not_ok "per-host: POST basic-0 answers 201 (got $code)"
wait_for 60 "per-host: basic-0 runs" basic0_running

# ----- 3. the packaged-config route --------------------------------------------------------------------------
PACKAGED_ETC=$(mktemp -d)
mkdir -p "$PACKAGED_ETC/mesos-master" "$PACKAGED_ETC/mesos"
echo 127.0.0.1 > "$PACKAGED_ETC/mesos-master/ip"
echo 1 > "$PACKAGED_ETC/mesos-master/quorum"
echo /var/lib/mesos > "$PACKAGED_ETC/mesos-master/work_dir"
echo MesosCluster > "$PACKAGED_ETC/mesos-master/cluster"
echo zk://127.0.0.1:2181/mesos > "$PACKAGED_ETC/mesos/zk"
docker rm -f mesos-rs-e2e-master >/dev/null
run -d --net=host -v "$PACKAGED_ETC/mesos-master:/etc/mesos-master:ro" -v "$PACKAGED_ETC/mesos:/etc/mesos:ro" "mesos-rs/mesos:$TAG"
packaged_master() { [ "$(json http://127.0.0.1:5050/master/state 'd.get("cluster")')" = MesosCluster ]; }
wait_for 60 "packaged config: a master configured only by /etc files leads" packaged_master
wait_for 60 "packaged config: the agent re-registers with it" one_agent
wait_for 60 "packaged config: marathon re-subscribes" marathon_registered
wait_for 60 "packaged config: basic-0 keeps running" basic0_running
