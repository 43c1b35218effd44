"""Drives a Marathon with the unmodified third-party `marathon` client (marathon-python 0.13.0), as users'
scripts do: create, list, scale, kill tasks, read deployments, queue, groups, info and the event stream, and
delete the app. Usage: marathon_client.py http://127.0.0.1:8080"""

import collections
import collections.abc
import sys
import threading
import time

# marathon 0.13.0 predates Python 3.10, which moved Iterable to collections.abc.
collections.Iterable = collections.abc.Iterable

from marathon import MarathonClient  # noqa: E402
from marathon.models import MarathonApp  # noqa: E402


def wait(what, check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            print("ok -", what)
            return
        time.sleep(0.5)
    raise SystemExit("timed out waiting for " + what)


def main(url):
    client = MarathonClient(url)
    info = client.get_info()
    assert info.name == "marathon" and info.version >= "0.11.0", info
    print("ok - info", info.version, info.framework_id)

    seen = []

    def listen():
        for event in client.event_stream(event_types=["status_update_event", "deployment_success"]):
            seen.append(event.event_type)
            if len(seen) >= 2:
                return

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)

    app = client.create_app("client-app", MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16, instances=1))
    assert app.id == "/client-app", app
    assert len(client.list_deployments()) == 1
    wait("one task running", lambda: len(client.list_tasks("client-app")) == 1 and client.get_app("client-app").tasks_running == 1)
    assert any(a.id == "/client-app" for a in client.list_apps(embed_tasks=True))
    assert client.list_queue() is not None
    group = client.get_group("/")
    assert any(a.id == "/client-app" for a in group.apps), group

    client.scale_app("client-app", instances=2)
    wait("scaled to two", lambda: client.get_app("client-app").tasks_running == 2)
    wait("the scale deployment finished", lambda: client.list_deployments() == [])
    task = client.list_tasks("client-app")[0]
    client.kill_task("client-app", task.id, scale=True)
    wait("scaled back to one by killing a task", lambda: client.get_app("client-app").instances == 1
         and client.get_app("client-app").tasks_running == 1)
    assert client.kill_given_tasks([t.id for t in client.list_tasks("client-app")]) is True
    wait("the killed task replaced", lambda: client.get_app("client-app").tasks_running == 1)
    wait("events seen on the stream", lambda: "status_update_event" in seen, timeout=30)

    client.delete_app("client-app", force=True)
    wait("app deleted", lambda: not any(a.id == "/client-app" for a in client.list_apps()))
    wait("no deployments left", lambda: client.list_deployments() == [])
    print("marathon-python: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
