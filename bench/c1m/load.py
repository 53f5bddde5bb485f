#!/usr/bin/env python3
"""Load generator of bench/c1m: RunTask through the ECS API until N tasks run on hollow agents.

Usage: load.py ENDPOINT CLUSTER AGENTS TASKS [THREADS] [PER_CALL]
Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (region us-east-1).

  1. creates CLUSTER and prints `# cluster and task definition ready` (run.sh starts the agents
     then), registers the task definition family `c1m` (one container, cpu 32, memory 64); waits
     until CLUSTER has AGENTS registered container instances (DescribeClusters
     registeredContainerInstancesCount), and prints how long that took;
  2. from THREADS threads (4), each with its own keep-alive connection, sends RunTask with count
     PER_CALL (10) until TASKS tasks are placed, while another thread polls DescribeClusters every
     0.1 s for runningTasksCount;
  3. prints one line `RESULT key=value ...`: the RunTask phase (calls, placed, failures, seconds,
     tasks/s acknowledged) and the end-to-end figure, TASKS / (time from the first RunTask to
     runningTasksCount >= TASKS).
A RunTask answer that is not a 200 is fatal; `failures` (no room) are counted and the call retried
for what was not placed, so the run still ends with TASKS tasks (capacity permitting).

Requests are SigV4-signed by bench/api/reqs.py's Signer (checked there against botocore), fresh for
each call, and sent raw over http.client: boto3 costs a few ms of Python per call, which on a
2-core machine would measure the load generator rather than the server.
"""
import datetime
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from reqs import Signer, check_against_botocore  # noqa: E402


class Client:
    """One keep-alive connection; call(op, payload) -> (status, parsed body)."""

    def __init__(self, endpoint, key, secret):
        u = urllib.parse.urlsplit(endpoint)
        self.host, self.port, self.netloc = u.hostname, u.port, u.netloc
        self.key, self.secret = key, secret
        self.conn = None
        self.signer = None
        self.signer_date = None

    def call(self, op, payload):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        if now != self.signer_date:
            self.signer, self.signer_date = Signer(self.key, self.secret, now), now
        _, hdrs, body = self.signer.request(self.netloc, op, payload)
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.conn.request("POST", "/", body=body, headers={k: v for k, v in hdrs.items() if k != "Content-Length"})
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            doc = {"raw": data[:300]}
        return resp.status, doc


def die(msg):
    print(f"bench/c1m: {msg}", file=sys.stderr, flush=True)
    os._exit(1)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.split("\n\n")[1])
    endpoint, cluster = sys.argv[1], sys.argv[2]
    agents, tasks = int(sys.argv[3]), int(sys.argv[4])
    nthreads = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    per_call = int(sys.argv[6]) if len(sys.argv) > 6 else 10
    key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    check_against_botocore(
        key, secret, urllib.parse.urlsplit(endpoint).netloc, endpoint,
        [("RunTask", {"cluster": cluster, "taskDefinition": "c1m", "count": per_call})],
    )
    c = Client(endpoint, key, secret)

    def describe():
        st, d = c.call("DescribeClusters", {"clusters": [cluster]})
        if st != 200:
            die(f"DescribeClusters answered {st}: {d}")
        return (d.get("clusters") or [{}])[0]  # MISSING until the first agent creates it

    # The agent creates only a missing "default" cluster (as ECS's does): create CLUSTER first.
    st, d = c.call("CreateCluster", {"clusterName": cluster})
    if st != 200:
        die(f"CreateCluster answered {st}: {d}")
    st, d = c.call(
        "RegisterTaskDefinition",
        {"family": "c1m", "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 32, "memory": 64, "essential": True}]},
    )
    if st != 200:
        die(f"RegisterTaskDefinition answered {st}: {d}")
    print("# cluster and task definition ready", flush=True)

    t0 = time.monotonic()
    while True:
        try:
            cl = describe()
        except (OSError, http.client.HTTPException):
            cl = {}  # the cluster may not exist yet
        if cl.get("registeredContainerInstancesCount", 0) >= agents:
            break
        if time.monotonic() - t0 > 600:
            die(f"only {cl.get('registeredContainerInstancesCount', 0)} of {agents} instances registered in 600 s")
        time.sleep(0.2)
    reg_s = time.monotonic() - t0
    print(f"# {agents} container instances registered in {reg_s:.1f} s", flush=True)


    lock = threading.Lock()
    state = {"left": tasks, "placed": 0, "calls": 0, "failures": 0, "failed_calls": 0}
    done_acks = threading.Event()
    t_first = [None]
    t_acked = [None]

    def worker():
        cl = Client(endpoint, key, secret)
        while True:
            with lock:
                n = min(per_call, state["left"])
                if n <= 0:
                    return
                state["left"] -= n
                if t_first[0] is None:
                    t_first[0] = time.monotonic()
            st, d = cl.call("RunTask", {"cluster": cluster, "taskDefinition": "c1m", "count": n})
            if st != 200:
                die(f"RunTask answered {st}: {d}")
            got = len(d.get("tasks", []))
            with lock:
                state["calls"] += 1
                state["placed"] += got
                if d.get("failures"):
                    state["failures"] += len(d["failures"])
                    state["failed_calls"] += 1
                    if state["failed_calls"] > 100:
                        die(f"RunTask keeps failing: {d['failures'][:3]}")
                state["left"] += n - got  # retry what found no room
                if state["placed"] >= tasks and t_acked[0] is None:
                    t_acked[0] = time.monotonic()
                    done_acks.set()

    peak = {"running": 0, "pending": 0}

    def watcher():
        w = Client(endpoint, key, secret)
        while True:
            st, d = w.call("DescribeClusters", {"clusters": [cluster]})
            if st != 200:
                die(f"DescribeClusters answered {st}: {d}")
            cl = d["clusters"][0]
            peak["running"] = cl["runningTasksCount"]
            peak["pending"] = max(peak["pending"], cl["pendingTasksCount"])
            if cl["runningTasksCount"] >= tasks:
                return time.monotonic()
            if t_first[0] is not None and time.monotonic() - t_first[0] > 1800:
                die(f"only {cl['runningTasksCount']} of {tasks} tasks RUNNING after 1800 s")
            time.sleep(0.1)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(nthreads)]
    for t in threads:
        t.start()
    t_running = watcher()
    for t in threads:
        t.join()
    run_s = t_acked[0] - t_first[0]
    e2e_s = t_running - t_first[0]
    print(
        f"RESULT calls={state['calls']} placed={state['placed']} failures={state['failures']} "
        f"runtask_s={run_s:.2f} runtask_tps={state['placed'] / run_s:.0f} "
        f"running_s={e2e_s:.2f} running_tps={tasks / e2e_s:.0f} peak_pending={peak['pending']} "
        f"register_s={reg_s:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
