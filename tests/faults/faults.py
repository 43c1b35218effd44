#!/usr/bin/env python3
"""Fault-injection scenarios against the HA cluster of compose.ha.yaml (compose project mesos-rs-faults).

Each scenario brings the cluster to a known state (every container up, the test apps defined and converged),
injects one fault with docker (kill, stop, network disconnect, killing the agent process), measures how long
the cluster takes to recover by polling, and asserts that nothing was lost:

* every app is still defined, with exactly `instances` running tasks, known to Marathon and to the leading
  master alike, and exactly `instances` task processes alive on the agents (no orphans, no duplicates);
* while the fault lasts, running tasks never exceed what the upgrade strategy allows;
* no task state regresses (a task seen RUNNING is never reported STAGING/STARTING again, a finished task is
  never reported alive again: task ids are never reused), per Marathon's event stream and per polling.

Run by scripts/faults.sh, which starts and removes the cluster; this file only drives it. Standard library only.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

PROJECT = "mesos-rs-faults"
MASTERS = {"master1": 15050, "master2": 15060, "master3": 15070}
MARATHONS = {"marathon1": 18080, "marathon2": 18081}
AGENTS = ["agent1", "agent2", "agent3"]
ZOOKEEPERS = ["zk1", "zk2", "zk3"]

# Timeouts configured in compose.ha.yaml; the bounds of the issue are derived from them.
ZK_SESSION_TIMEOUT = 6.0
AGENT_PING_TIMEOUT = 2.0 * 3

# Command apps (the agents have no Docker socket). Each app's task is a `sleep` with a distinct argument, so
# its processes can be counted on the agents. /faults/web keeps the default unreachableStrategy (replace at
# once); /faults/worker waits WORKER_INACTIVE_AFTER seconds before replacing an unreachable task.
WORKER_INACTIVE_AFTER = 10
APPS = {
    "/faults/web": {"instances": 3, "cmd": "sleep 100001"},
    "/faults/worker": {"instances": 2, "cmd": "sleep 100002",
                       "unreachableStrategy": {"inactiveAfterSeconds": WORKER_INACTIVE_AFTER,
                                               "expungeAfterSeconds": 3600}},
}
# An app with no instances whose label is rewritten by the API load of the rolling-restart scenario.
LOAD_APP = "/faults/load"

ALIVE = {"TASK_STAGING": 0, "TASK_STARTING": 1, "TASK_RUNNING": 2, "TASK_UNREACHABLE": 2, "TASK_KILLING": 3}
TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
            "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}


class Failure(Exception):
    """A scenario's assertion failed."""


def check(condition, message):
    """Raises Failure(message) unless condition holds."""
    if not condition:
        raise Failure(message)


def log(message):
    """Progress on stderr, with a timestamp."""
    print(time.strftime("%H:%M:%S"), message, file=sys.stderr, flush=True)


# ----- HTTP ---------------------------------------------------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Standby masters answer 307 to an address only resolvable inside the cluster: report it, do not follow."""

    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, timeout=5.0):
    """(status, parsed JSON body or None); status None when the server cannot be reached."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (OSError, urllib.error.URLError):
        return None, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def marathon(method, path, body=None, timeout=5.0):
    """A Marathon API call on any instance that answers (standbys proxy to the leader)."""
    result = (None, None)
    for port in MARATHONS.values():
        result = http(method, f"http://127.0.0.1:{port}{path}", body, timeout)
        if result[0] is not None and result[0] < 500:
            return result
    return result


def leading_master():
    """(service, /master/state) of the master that leads, or (None, None)."""
    for name, port in MASTERS.items():
        status, state = http("GET", f"http://127.0.0.1:{port}/master/state", timeout=3)
        if status == 200 and state and state.get("leader") and state.get("leader") == state.get("pid"):
            return name, state
    return None, None


def leading_marathon():
    """Service name of the leading Marathon, or None."""
    for name, port in MARATHONS.items():
        status, body = http("GET", f"http://127.0.0.1:{port}/v2/leader", timeout=3)
        if status == 200 and body and body.get("leader"):
            return body["leader"].split(":")[0]
    return None


# ----- docker ---------------------------------------------------------------------------------------------------

def run(*args, check_rc=True):
    """Runs a command; returns stdout."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if check_rc and done.returncode != 0:
        raise Failure(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


class Docker:
    """The compose project's containers."""

    def __init__(self, compose):
        self.compose = compose
        self.ids = {}

    def container(self, service):
        """The container id of a service."""
        if service not in self.ids:
            out = run(*self.compose, "ps", "-q", service).strip()
            check(out, f"no container for {service}")
            self.ids[service] = out
        return self.ids[service]

    def network(self):
        """The project's bridge network."""
        return f"{PROJECT}_default"

    def running(self, service):
        """Whether the service's container runs."""
        out = run("docker", "inspect", "-f", "{{.State.Running}}", self.container(service), check_rc=False)
        return out.strip() == "true"

    def connected(self, service):
        """Whether the service's container is attached to the project network."""
        out = run("docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", self.container(service))
        return self.network() in json.loads(out or "{}")

    def kill(self, service):
        run("docker", "kill", self.container(service))

    def stop(self, service):
        run("docker", "stop", "-t", "2", self.container(service))

    def start(self, service):
        run("docker", "start", self.container(service))

    def restart(self, service):
        run("docker", "restart", "-t", "5", self.container(service))

    def disconnect(self, service):
        run("docker", "network", "disconnect", self.network(), self.container(service))

    def connect(self, service):
        run("docker", "network", "connect", "--alias", service, self.network(), self.container(service))

    def kill_agent_process(self, agent):
        """Kills the agent process only; its supervising shell restarts it, its tasks keep running."""
        run("docker", "exec", self.container(agent), "sh", "-c", "kill -9 $(cat /tmp/agent.pid)")

    def task_processes(self, agent):
        """{cmd: [pid, ...]} of the test apps' task processes running on an agent."""
        out = run("docker", "exec", self.container(agent), "ps", "-o", "pid,args", check_rc=False)
        found = {}
        for line in out.splitlines()[1:]:
            pid, _, args = line.strip().partition(" ")
            for app in APPS.values():
                if args.strip() == app["cmd"]:
                    found.setdefault(app["cmd"], []).append(pid)
        return found

    def heal(self):
        """Every container running and attached, as the compose file declares."""
        for service in ZOOKEEPERS + list(MASTERS) + AGENTS + list(MARATHONS):
            if not self.running(service):
                log(f"starting {service}")
                self.start(service)
            if not self.connected(service):
                log(f"reconnecting {service}")
                self.connect(service)


# ----- observation --------------------------------------------------------------------------------------------

class Ledger:
    """Every state seen per task id from one ordered source; records regressions."""

    def __init__(self, source):
        self.source = source
        self.rank = {}
        self.regressions = []

    def observe(self, task_id, state):
        """Records a state; a lower rank than seen before, or life after a terminal state, is a regression."""
        rank = 4 if state in TERMINAL else ALIVE.get(state)
        if rank is None:
            return
        seen = self.rank.get(task_id)
        if seen is not None and rank < seen:
            self.regressions.append(f"{self.source}: task {task_id} reported {state} after rank {seen}")
        self.rank[task_id] = max(rank, seen or 0)

    def launched(self):
        """Task ids seen at all."""
        return set(self.rank)


class EventStream(threading.Thread):
    """Follows Marathon's /v2/events (status updates) on the leading instance, reconnecting across failovers."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ledger = Ledger("event stream")
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stopped.is_set():
            leader = leading_marathon()
            if leader in MARATHONS:
                self.follow(MARATHONS[leader])
            time.sleep(0.5)

    def follow(self, port):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/events?event_type=status_update_event",
                                         headers={"Accept": "text/event-stream"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                data = []
                for raw in response:
                    if self.stopped.is_set():
                        return
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        self.on_event("".join(data))
                        data = []
        except (OSError, urllib.error.URLError, ValueError):
            return

    def on_event(self, text):
        try:
            event = json.loads(text)
        except ValueError:
            return
        if event.get("eventType") == "status_update_event":
            with self.lock:
                self.ledger.observe(event.get("taskId"), event.get("taskStatus"))


class Snapshot:
    """One poll of the cluster: Marathon's apps and tasks and the leading master's view."""

    def __init__(self, agents_up, ignore=frozenset()):
        self.problems = []
        self.apps = {}
        self.tasks = {}
        status, body = marathon("GET", "/v2/apps?embed=apps.tasks")
        if status != 200 or body is None:
            self.problems.append(f"Marathon /v2/apps answered {status}")
            return
        self.apps = {a["id"]: a for a in body.get("apps", [])}
        for app in self.apps.values():
            app["tasks"] = [t for t in app.get("tasks", []) if t["id"] not in ignore]
            for task in app["tasks"]:
                self.tasks[task["id"]] = (app["id"], task.get("state"), task.get("host"))
        for app_id, spec in APPS.items():
            app = self.apps.get(app_id)
            if app is None:
                self.problems.append(f"{app_id} is not defined")
                continue
            running = self.running(app_id)
            if len(running) != spec["instances"] or len(app.get("tasks", [])) != spec["instances"]:
                self.problems.append(f"{app_id}: {len(running)} running of {len(app.get('tasks', []))} tasks, "
                                     f"want {spec['instances']}")
        status, deployments = marathon("GET", "/v2/deployments")
        if status != 200 or deployments:
            self.problems.append(f"deployments in progress: {status} {len(deployments or [])}")
        self.check_master(agents_up)

    def running(self, app_id):
        """Marathon's running task ids of an app."""
        return {t for t, (a, state, _) in self.tasks.items() if a == app_id and state == "TASK_RUNNING"}

    def check_master(self, agents_up):
        name, state = leading_master()
        if state is None:
            self.problems.append("no leading master")
            return
        if state.get("activated_slaves") != agents_up:
            self.problems.append(f"{state.get('activated_slaves')} active agents, want {agents_up}")
        frameworks = [f for f in state.get("frameworks", []) if f.get("name") == "marathon"]
        if len(frameworks) != 1 or not frameworks[0].get("active"):
            self.problems.append("Marathon is not subscribed to the leading master")
            return
        mesos_running = {t["id"] for t in frameworks[0].get("tasks", []) if t.get("state") == "TASK_RUNNING"}
        marathon_running = {t for t, (_, s, _) in self.tasks.items() if s == "TASK_RUNNING"}
        if mesos_running != marathon_running:
            self.problems.append(f"master and Marathon disagree: {sorted(mesos_running ^ marathon_running)}")


class Watch(threading.Thread):
    """Polls the cluster through a fault: states per task (ledger), API errors and the most tasks running."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ledger = Ledger("polling")
        self.stopped = threading.Event()
        self.api_errors = 0
        self.polls = 0
        self.most_running = {app_id: 0 for app_id in APPS}

    def run(self):
        while not self.stopped.is_set():
            status, body = marathon("GET", "/v2/tasks", timeout=3)
            self.polls += 1
            if status != 200 or body is None:
                self.api_errors += 1
            else:
                running = {app_id: 0 for app_id in APPS}
                for task in body.get("tasks", []):
                    self.ledger.observe(task["id"], task.get("state"))
                    if task.get("state") == "TASK_RUNNING" and task.get("appId") in running:
                        running[task["appId"]] += 1
                for app_id, n in running.items():
                    self.most_running[app_id] = max(self.most_running[app_id], n)
            time.sleep(0.3)


def allowed_running(instances):
    """Most running tasks the default upgrade strategy (maximumOverCapacity 1) tolerates."""
    return instances + math.ceil(instances * 1.0)


# ----- the scenarios ------------------------------------------------------------------------------------------

class Scenario:
    """Shared machinery: known state, fault window, recovery measurement, final invariants."""

    def __init__(self, docker, timeout):
        self.docker = docker
        self.timeout = timeout
        self.notes = []

    def snapshot(self, agents_up=3, ignore=frozenset()):
        """A poll of the cluster, with `agents_up` agents expected and the `ignore` task ids left out."""
        return Snapshot(agents_up, ignore)

    def prepare(self):
        """Every container up, the apps defined and converged; returns the converged snapshot."""
        self.docker.heal()
        deadline = time.monotonic() + max(self.timeout, 120)
        for app_id, spec in APPS.items():
            body = {"id": app_id, "cpus": 0.05, "mem": 16, **spec}
            while True:
                status, _ = marathon("PUT", f"/v2/apps{app_id}", body, timeout=10)
                if status in (200, 201):
                    break
                check(time.monotonic() < deadline, f"cannot define {app_id}: {status}")
                time.sleep(1)
        return self.converge(time.monotonic(), deadline_s=max(self.timeout, 120), what="known state")

    def converge(self, since, deadline_s=None, agents_up=3, what="recovery", ignore=frozenset()):
        """Polls until the cluster is converged; returns the snapshot; records the time since `since`."""
        deadline = since + (deadline_s or self.timeout)
        self.app_times = {}
        while True:
            snap = self.snapshot(agents_up, ignore)
            for app_id, spec in APPS.items():
                if len(snap.running(app_id)) == spec["instances"]:
                    self.app_times.setdefault(app_id, time.monotonic() - since)
            if not snap.problems:
                self.elapsed = time.monotonic() - since
                return snap
            if time.monotonic() > deadline:
                raise Failure(f"{what} not reached in {deadline - since:.0f} s: {'; '.join(snap.problems)}")
            time.sleep(0.25)

    def wait(self, condition, what, timeout=None):
        """Polls condition() until true; returns seconds waited."""
        start = time.monotonic()
        while not condition():
            check(time.monotonic() - start < (timeout or self.timeout), f"timed out waiting for {what}")
            time.sleep(0.25)
        return time.monotonic() - start

    def processes(self, agents=AGENTS):
        """{cmd: count} of task processes on the given agents."""
        counts = {}
        for agent in agents:
            for cmd, pids in self.docker.task_processes(agent).items():
                counts[cmd] = counts.get(cmd, 0) + len(pids)
        return counts

    def assert_nothing_lost(self, snap, watch, events, agents=AGENTS, same_tasks=None):
        """The final invariants (see the module doc)."""
        for app_id, spec in APPS.items():
            check(app_id in snap.apps, f"{app_id} lost")
        want = {spec["cmd"]: spec["instances"] for spec in APPS.values()}
        deadline = time.monotonic() + 30
        while self.processes(agents) != want and time.monotonic() < deadline:
            time.sleep(0.5)  # surplus tasks may still be dying
        check(self.processes(agents) == want, f"task processes {self.processes(agents)}, want {want}")
        for app_id, most in watch.most_running.items():
            limit = allowed_running(APPS[app_id]["instances"])
            check(most <= limit, f"{app_id}: {most} tasks running at once, the upgrade strategy allows {limit}")
        with events.lock:
            regressions = watch.ledger.regressions + events.ledger.regressions
        check(not regressions, "; ".join(regressions[:5]))
        if same_tasks is not None:
            check(set(snap.tasks) == same_tasks,
                  f"tasks were relaunched: gone {sorted(same_tasks - set(snap.tasks))}, "
                  f"new {sorted(set(snap.tasks) - same_tasks)}")

    def agents_with_tasks(self, snap):
        """Agent services hosting tasks of the test apps, most tasks first."""
        hosts = {}
        for _, (_, _, host) in snap.tasks.items():
            hosts[host] = hosts.get(host, 0) + 1
        return sorted((h for h in hosts if h in AGENTS), key=lambda h: -hosts[h])


def leading_master_killed(s, watch, events):
    """1: docker kill the leading master; a standby takes over, agents and Marathon follow, no task changes."""
    before = s.prepare()
    old, _ = leading_master()
    check(old, "no leading master before the fault")
    t0 = time.monotonic()
    s.docker.kill(old)
    s.notes.append(f"killed {old}")
    s.wait(lambda: leading_master()[0] not in (None, old), "a new leading master")
    s.notes.append(f"new leader after {time.monotonic() - t0:.1f} s")
    snap = s.converge(t0)
    recovery = s.elapsed
    s.docker.start(old)
    s.assert_nothing_lost(snap, watch, events, same_tasks=set(before.tasks))
    return recovery, ZK_SESSION_TIMEOUT + 5


def leading_marathon_killed(s, watch, events):
    """2: kill the leading Marathon; the other one leads, the same tasks keep running."""
    before = s.prepare()
    old = leading_marathon()
    check(old in MARATHONS, f"no leading Marathon before the fault ({old})")
    t0 = time.monotonic()
    s.docker.kill(old)
    s.notes.append(f"killed {old}")
    s.wait(lambda: leading_marathon() not in (None, old), "a new leading Marathon")
    snap = s.converge(t0)
    recovery = s.elapsed
    s.docker.start(old)
    s.assert_nothing_lost(snap, watch, events, same_tasks=set(before.tasks))
    return recovery, ZK_SESSION_TIMEOUT + 5


def agent_killed(s, watch, events):
    """3: kill an agent hosting tasks; its tasks are replaced on the others within the ping timeout + 5 s."""
    before = s.prepare()
    victim = s.agents_with_tasks(before)[0]
    lost = {t for t, (_, _, host) in before.tasks.items() if host == victim}
    t0 = time.monotonic()
    s.docker.kill(victim)
    s.notes.append(f"killed {victim} with {len(lost)} tasks")
    snap = s.converge(t0, agents_up=2, ignore=lost)
    # The bound is for the default unreachableStrategy; /faults/worker waits WORKER_INACTIVE_AFTER more.
    recovery = s.app_times["/faults/web"]
    s.notes.append(f"all replaced after {s.elapsed:.1f} s")
    # Unreachable web tasks are expunged at once (expungeAfterSeconds 0); worker tasks stay listed as
    # TASK_UNREACHABLE until their agent returns or expungeAfterSeconds passes.
    listed = Snapshot(2).tasks
    for task_id in lost & set(listed):
        app_id, state, _ = listed[task_id]
        check(app_id == "/faults/worker" and state == "TASK_UNREACHABLE",
              f"task {task_id} of the killed agent listed as {state}")
    others = [a for a in AGENTS if a != victim]
    s.assert_nothing_lost(snap, watch, events, agents=others)
    # The agent returns with its tasks gone (the container was killed): nothing may come back from it.
    s.docker.start(victim)
    snap = s.converge(time.monotonic(), what="agent return")
    s.assert_nothing_lost(snap, watch, events)
    return recovery, AGENT_PING_TIMEOUT + 5


def agent_restarted(s, watch, events):
    """4: restart the agent process of an agent with tasks; they are recovered, not relaunched."""
    before = s.prepare()
    victim = s.agents_with_tasks(before)[0]
    pids = s.docker.task_processes(victim)
    t0 = time.monotonic()
    s.docker.kill_agent_process(victim)
    s.notes.append(f"restarted the agent process of {victim}")
    # The master notices the broken link at once; wait for the agent to be back and active.
    s.wait(lambda: s.docker.task_processes(victim) and leading_master()[1] is not None, "the agent back")
    time.sleep(1)
    snap = s.converge(t0)
    recovery = s.elapsed
    check(s.docker.task_processes(victim) == pids, "task processes on the restarted agent changed")
    s.assert_nothing_lost(snap, watch, events, same_tasks=set(before.tasks))
    return recovery, None


def one_zookeeper_stopped(s, watch, events):
    """5: stop 1 of 3 ZooKeeper nodes; no disruption: the API answers throughout, no task changes."""
    before = s.prepare()
    errors = watch.api_errors
    t0 = time.monotonic()
    s.docker.stop("zk1")
    s.notes.append("stopped zk1 for 3 ZooKeeper session timeouts")
    while time.monotonic() - t0 < 3 * ZK_SESSION_TIMEOUT:
        snap = s.snapshot()
        check(not snap.problems, f"disruption with 2 of 3 ZooKeeper nodes: {'; '.join(snap.problems)}")
        time.sleep(0.5)
    check(watch.api_errors == errors, f"{watch.api_errors - errors} API errors with 2 of 3 ZooKeeper nodes")
    s.docker.start("zk1")
    snap = s.converge(time.monotonic())
    s.assert_nothing_lost(snap, watch, events, same_tasks=set(before.tasks))
    return 0.0, None


def two_zookeepers_stopped(s, watch, events):
    """6: stop 2 of 3 ZooKeeper nodes; leaders step down, tasks keep running, all recovers when they return."""
    before = s.prepare()
    pids = {agent: s.docker.task_processes(agent) for agent in AGENTS}
    s.docker.stop("zk1")
    s.docker.stop("zk2")
    t0 = time.monotonic()
    s.notes.append("stopped zk1 and zk2")
    stepped_down = s.wait(lambda: leading_master()[0] is None and leading_marathon() is None,
                          "the leaders to step down", timeout=ZK_SESSION_TIMEOUT + 30)
    s.notes.append(f"leaders stepped down after {stepped_down:.1f} s")
    time.sleep(ZK_SESSION_TIMEOUT)
    check({agent: s.docker.task_processes(agent) for agent in AGENTS} == pids,
          "task processes changed without ZooKeeper")
    t1 = time.monotonic()
    s.docker.start("zk1")
    s.docker.start("zk2")
    snap = s.converge(t1)
    recovery = s.elapsed
    s.assert_nothing_lost(snap, watch, events, same_tasks=set(before.tasks))
    check({agent: s.docker.task_processes(agent) for agent in AGENTS} == pids, "task processes changed")
    return recovery, None


def agent_partitioned(s, watch, events):
    """7: disconnect an agent from the network; its tasks become unreachable and are replaced; on return the
    surplus is killed."""
    before = s.prepare()
    victim = s.agents_with_tasks(before)[0]
    cut_off = {t for t, (_, _, host) in before.tasks.items() if host == victim}
    t0 = time.monotonic()
    s.docker.disconnect(victim)
    s.notes.append(f"disconnected {victim} with {len(cut_off)} tasks")
    s.wait(lambda: unreachable(cut_off), "the tasks to become TASK_UNREACHABLE")
    t_unreachable = time.monotonic()
    s.notes.append(f"unreachable after {t_unreachable - t0:.1f} s")
    snap = s.converge(t0, agents_up=2, ignore=cut_off)
    recovery = s.app_times["/faults/web"]
    waited = s.elapsed - (t_unreachable - t0)
    if any(before.tasks[t][0] == "/faults/worker" for t in cut_off):
        check(waited >= WORKER_INACTIVE_AFTER - 1,
              f"/faults/worker replaced {waited:.1f} s after becoming unreachable, before inactiveAfterSeconds")
        s.notes.append(f"worker replaced {waited:.1f} s after unreachable")
    t1 = time.monotonic()
    s.docker.connect(victim)
    snap = s.converge(t1, what="agent return")
    s.notes.append(f"back, surplus killed after {s.elapsed:.1f} s")
    check(not cut_off & set(snap.tasks), "tasks of the partitioned agent survived their replacement")
    s.assert_nothing_lost(snap, watch, events)
    return recovery, AGENT_PING_TIMEOUT + 5


def unreachable(task_ids):
    """Whether Marathon lists every given task as TASK_UNREACHABLE (or no longer lists it)."""
    status, body = marathon("GET", "/v2/tasks")
    if status != 200 or body is None:
        return False
    states = {t["id"]: t.get("state") for t in body.get("tasks", [])}
    return all(states.get(t, "TASK_UNREACHABLE") == "TASK_UNREACHABLE" for t in task_ids)


def rolling_restart(s, watch, events):
    """8: restart every role one at a time under a steady GET/PUT load; no acknowledged write is lost."""
    before = s.prepare()
    load = Load()
    load.start()
    t0 = time.monotonic()
    slowest = 0.0
    try:
        for service in ZOOKEEPERS + list(MASTERS) + AGENTS + list(MARATHONS):
            t = time.monotonic()
            if service in AGENTS:
                s.docker.kill_agent_process(service)
                time.sleep(1)
            else:
                s.docker.restart(service)
            s.converge(t, what=f"recovery from restarting {service}")
            slowest = max(slowest, s.elapsed)
    finally:
        load.stopped.set()
        load.join()
    total = time.monotonic() - t0
    s.notes.append(f"{total:.0f} s for all 14 restarts; {load.writes} writes acknowledged, "
                   f"{load.reads} reads, {load.errors} errors {load.error_kinds}")
    check(load.writes > 0, "no write was acknowledged under load")
    status, body = marathon("GET", f"/v2/apps{LOAD_APP}/versions")
    check(status == 200, f"versions of {LOAD_APP}: {status}")
    # Marathon keeps the newest --zk_max_versions (50) versions: every acknowledged write at least as new as the
    # oldest one kept must be there (timestamps in this format sort as text).
    stored = set(body.get("versions", []))
    check(stored, f"no versions of {LOAD_APP}")
    missing = {v for v in load.acknowledged if v >= min(stored)} - stored
    check(not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:3]}")
    status, body = marathon("GET", f"/v2/apps{LOAD_APP}")
    check(status == 200 and body["app"]["labels"].get("seq") == str(load.last_seq),
          f"the last acknowledged write (seq {load.last_seq}) is not the current config")
    snap = s.converge(time.monotonic())
    s.assert_nothing_lost(snap, watch, events, same_tasks=set(before.tasks))
    return slowest, None


class Load(threading.Thread):
    """A steady API load: alternating reads and label rewrites of LOAD_APP, through both Marathons."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.reads = self.writes = self.errors = self.last_seq = 0
        self.acknowledged = set()
        self.error_kinds = {}

    def failed(self, method, port, status):
        """Counts a failed request by method, Marathon and status (None: no answer)."""
        self.errors += 1
        kind = f"{method} :{port} {status}"
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def run(self):
        ports = list(MARATHONS.values())
        seq = 0
        http("PUT", f"http://127.0.0.1:{ports[0]}/v2/apps{LOAD_APP}?force=true",
             {"id": LOAD_APP, "cmd": "sleep 1", "instances": 0, "cpus": 0.01, "mem": 8}, timeout=10)
        while not self.stopped.is_set():
            port = ports[seq % 2]
            status, _ = http("GET", f"http://127.0.0.1:{port}/v2/apps", timeout=10)
            if status == 200:
                self.reads += 1
            else:
                self.failed("GET", port, status)
            seq += 1
            status, body = http("PUT", f"http://127.0.0.1:{port}/v2/apps{LOAD_APP}?force=true",
                                {"labels": {"seq": str(seq)}}, timeout=10)
            if status == 200 and body and body.get("version"):
                self.writes += 1
                self.last_seq = seq
                self.acknowledged.add(body["version"])
            else:
                self.failed("PUT", port, status)
            time.sleep(0.2)


SCENARIOS = {
    "master-kill": leading_master_killed,
    "marathon-kill": leading_marathon_killed,
    "agent-kill": agent_killed,
    "agent-restart": agent_restarted,
    "zk-one-down": one_zookeeper_stopped,
    "zk-two-down": two_zookeepers_stopped,
    "agent-partition": agent_partitioned,
    "rolling-restart": rolling_restart,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", required=True, help="the compose command, as one shell word list")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=90, help="seconds allowed for each recovery")
    parser.add_argument("--results", help="append one JSON line per run here")
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    unknown = [n for n in args.scenarios if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    docker = Docker(args.compose.split())
    rows = []
    for round_ in range(1, args.repeat + 1):
        for name in args.scenarios:
            s = Scenario(docker, args.timeout)
            events, watch = EventStream(), Watch()
            log(f"[{round_}/{args.repeat}] {name}: {SCENARIOS[name].__doc__.splitlines()[0]}")
            started = time.monotonic()
            try:
                s.prepare()
                events.start()
                watch.start()
                time.sleep(1)
                recovery, bound = SCENARIOS[name](s, watch, events)
                within = bound is None or recovery <= bound
                if not within:
                    s.notes.append(f"recovery over the bound of {bound:.0f} s")
                row = {"scenario": name, "round": round_, "ok": within, "recovery_s": round(recovery, 1),
                       "bound_s": bound, "notes": "; ".join(s.notes)}
            except Failure as e:
                row = {"scenario": name, "round": round_, "ok": False, "recovery_s": None, "bound_s": None,
                       "notes": "; ".join(s.notes + [str(e)])}
            finally:
                events.stopped.set()
                watch.stopped.set()
            row["duration_s"] = round(time.monotonic() - started, 1)
            log(("PASS " if row["ok"] else "FAIL ") + json.dumps(row))
            rows.append(row)
            if args.results:
                with open(args.results, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print_table(rows)
    return 0 if all(r["ok"] for r in rows) else 1


def print_table(rows):
    """One line per run, then min/median/max recovery per scenario."""
    print(f"{'scenario':<17} {'round':>5} {'result':<6} {'recovery s':>10} {'bound s':>7} {'run s':>6}  notes")
    for r in rows:
        recovery = "" if r["recovery_s"] is None else f"{r['recovery_s']:.1f}"
        bound = "" if r["bound_s"] is None else f"{r['bound_s']:.0f}"
        print(f"{r['scenario']:<17} {r['round']:>5} {'pass' if r['ok'] else 'FAIL':<6} {recovery:>10} {bound:>7} "
              f"{r['duration_s']:>6.0f}  {r['notes']}")
    print()
    print(f"{'scenario':<17} {'passed':>6} {'min s':>6} {'median s':>8} {'max s':>6}")
    for name in dict.fromkeys(r["scenario"] for r in rows):
        runs = [r for r in rows if r["scenario"] == name]
        times = [r["recovery_s"] for r in runs if r["ok"]]
        stats = (f"{min(times):>6.1f} {statistics.median(times):>8.1f} {max(times):>6.1f}" if times else "")
        print(f"{name:<17} {sum(r['ok'] for r in runs):>3}/{len(runs):<2} {stats}")


if __name__ == "__main__":
    sys.exit(main())
