#!/usr/bin/env python3
"""A small pymesos (0.3.15) framework, run by tests/tests/master_pymesos.rs against a mesos-rs master.

Usage: pymesos_framework.py MASTER NAME
  MASTER  zk://host:port/path or host:port, as pymesos takes it
  NAME    framework name; task ids are derived from it

It subscribes, launches two command tasks on the first offer (`echo hi`, expected to finish, and `exit 3`,
expected to fail), declines later offers, lets pymesos acknowledge every update implicitly, then stops the
driver without failover, which sends TEARDOWN. It prints one JSON object per line: `registered`, one `update`
per status update, and a final `result` with the states seen per task; it exits 0 only if the first task
finished and the second failed.
"""

import json
import sys
import threading
import time

from pymesos import MesosSchedulerDriver, Scheduler

TIMEOUT_SECONDS = 60


def emit(**fields):
    print(json.dumps(fields), flush=True)


def scalar(name, value):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


class TwoTasks(Scheduler):
    """Launches the two tasks once and records every state they report."""

    def __init__(self, name):
        self.tasks = {name + "-echo": "echo hi", name + "-fail": "exit 3"}
        self.launched = False
        self.states = {task_id: [] for task_id in self.tasks}
        self.framework_id = None
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        self.framework_id = framework_id["value"]
        emit(event="registered", framework_id=self.framework_id, master=master_info.get("address"))

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer([offer["id"]], {"refuse_seconds": 3600})
                continue
            tasks = [
                {
                    "name": task_id,
                    "task_id": {"value": task_id},
                    "agent_id": offer["agent_id"],
                    "resources": [scalar("cpus", 0.1), scalar("mem", 32)],
                    "command": {"value": command},
                }
                for task_id, command in self.tasks.items()
            ]
            driver.launchTasks([offer["id"]], tasks)
            self.launched = True

    def statusUpdate(self, driver, update):
        task_id = update["task_id"]["value"]
        emit(event="update", task_id=task_id, state=update["state"], has_uuid="uuid" in update)
        self.states.setdefault(task_id, []).append(update["state"])
        terminal = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED"}
        if all(states and states[-1] in terminal for states in self.states.values()):
            self.done.set()


def main():
    master, name = sys.argv[1], sys.argv[2]
    scheduler = TwoTasks(name)
    framework = {"user": "root", "name": name, "hostname": "127.0.0.1", "failover_timeout": 60}
    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=False)
    driver.start()
    finished = scheduler.done.wait(TIMEOUT_SECONDS)
    # The last update is acknowledged right after statusUpdate returns; give it a moment to go out.
    time.sleep(1)
    driver.stop()  # no failover: TEARDOWN
    driver.join()
    echo, fail = (scheduler.states[task_id] for task_id in scheduler.tasks)
    ok = finished and echo[-1:] == ["TASK_FINISHED"] and fail[-1:] == ["TASK_FAILED"]
    emit(event="result", framework_id=scheduler.framework_id, states=scheduler.states, ok=ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
