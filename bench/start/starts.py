#!/usr/bin/env python3
"""bench/start's timing loops (run.sh drives them).

  starts.py run N OUTDIR CASES [ENDPOINT CLUSTER IMAGE AGENT_STATE SUBNET_PREFIX]
      N rounds; in each, one start of every case, one at a time, the order rotated by one per round
      (so that whatever else the machine does meets every case alike), and before each start a
      wait (2 s at most) for the machine to be quiet (< 10 % busy over 50 ms), so that what the
      previous case still does in the background (docker's, podman's cleanups) does not land on
      it. Writes OUTDIR/<case>.txt (ms, one a line) and OUTDIR/busy ("B N": B of the N starts
      found the machine still busy after the 2 s). The cases:
      - with ENDPOINT..., gantry-none and gantry-bridge, through boto3 (one process, one kept-alive
        connection): the two task definitions are registered, one warm-up task of each is run
        (image pulled and unpacked; the bridge one checked to serve on its host port); then each
        start is the time from the RunTask call to the first DescribeTasks answer (polled every
        10 ms) that says lastStatus RUNNING, after which the task is stopped and waited for until
        the agent has removed it (its directory under AGENT_STATE). OUTDIR/gantry-<mode>.tasks
        has, per task, its id, then as epoch seconds the RunTask call, the DescribeTasks answer
        that said RUNNING, and the task's createdAt, pullStartedAt, pullStoppedAt and startedAt.
      - CASES, a file of lines NAME<TAB>START<TAB>STOP (argvs as JSON arrays): a start is START
        run to its exit, timed from just before the fork to the reaped exit; then STOP, untimed
        ("{out}" in it is START's stdout; "{i}" in either a counter). One warm-up run first.
  starts.py phases MODE FILE
      Prints the median of each phase between a gantry-<mode>.tasks file's timestamps (ms).
  starts.py stats FILE...
      Prints "p50 p99" (ms) of each file's samples.
  starts.py drain ENDPOINT CLUSTER AGENT_STATE
      Stops every task of the cluster and waits (30 s at most) until the agent has removed them:
      the agent's own cleanup (CNI DEL, mounts, cgroups) before it is stopped.
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as for any boto3 program.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

POLL_S = 0.010  # DescribeTasks every 10 ms
START_LIMIT_S = 60.0  # a start slower than this is a failure, not a sample
GONE_LIMIT_S = 60.0
SETTLE_BUSY = 0.10  # before each start, the machine below 10 % busy over 50 ms ...
SETTLE_LIMIT_S = 2.0  # ... or 2 s gone by


def pct(samples, p):
    """The p-th percentile with linear interpolation between closest ranks (numpy's default):
    of 50 samples, p50 is the mean of the 25th and 26th, p99 lies between the 49th and 50th."""
    s = sorted(samples)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def die(msg):
    print(f"bench/start: {msg}", file=sys.stderr)
    sys.exit(1)


def ts(v):
    """A task timestamp (datetime from botocore) as epoch seconds, or None."""
    return v.timestamp() if v is not None else None


def gantry(endpoint, cluster, image, agent_state, subnet_prefix):
    """Sets up the gantry cases; returns {case name: one(record) -> ms}, after the warm-ups."""
    import boto3
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=2)
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
    tasks_dir = os.path.join(agent_state, "crun-runtime", "tasks")

    deadline = time.time() + 30
    while not ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]:
        if time.time() > deadline:
            die("the agent did not register within 30 s")
        time.sleep(0.1)

    defs = {
        "none": dict(
            family="bench-start-none",
            networkMode="none",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": image,
                    "memory": 64,
                    "essential": True,
                    "stopTimeout": 2,
                    "command": ["sleep", "3600"],
                    "linuxParameters": {"initProcessEnabled": True},
                }
            ],
        ),
        "bridge": dict(
            family="bench-start-bridge",
            networkMode="bridge",
            containerDefinitions=[
                {
                    "name": "web",
                    "image": image,
                    "memory": 64,
                    "essential": True,
                    "stopTimeout": 2,
                    "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
                    "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
                    "linuxParameters": {"initProcessEnabled": True},
                }
            ],
        ),
    }
    for d in defs.values():
        ecs.register_task_definition(**d)

    def describe(arn):
        r = ecs.describe_tasks(cluster=cluster, tasks=[arn])
        if not r["tasks"]:
            die(f"DescribeTasks does not know {arn}: {r.get('failures')}")
        return r["tasks"][0]

    def start(mode):
        """Runs one task; returns (ms to RUNNING as seen, the RUNNING task document, t0 epoch)."""
        t0_wall = time.time()
        t0 = time.perf_counter()
        r = ecs.run_task(cluster=cluster, taskDefinition=defs[mode]["family"], count=1)
        if not r["tasks"]:
            die(f"RunTask placed no task: {r.get('failures')}")
        arn = r["tasks"][0]["taskArn"]
        while True:
            t = describe(arn)
            st = t["lastStatus"]
            if st == "RUNNING":
                return (time.perf_counter() - t0) * 1000.0, t, t0_wall
            if st == "STOPPED":
                c = t["containers"][0]
                die(f"{mode} task {arn} stopped before RUNNING: {t.get('stoppedReason')} / {c.get('reason')}")
            if time.perf_counter() - t0 > START_LIMIT_S:
                die(f"{mode} task {arn} is not RUNNING after {START_LIMIT_S} s (it is {st})")
            time.sleep(POLL_S)

    def stop(arn):
        ecs.stop_task(cluster=cluster, task=arn, reason="bench")
        tid = arn.rsplit("/", 1)[1]
        deadline = time.time() + GONE_LIMIT_S
        while describe(arn)["lastStatus"] != "STOPPED" or os.path.exists(os.path.join(tasks_dir, tid)):
            if time.time() > deadline:
                die(f"task {arn} was not stopped and removed within {GONE_LIMIT_S} s")
            time.sleep(0.02)

    # Warm-up: the image is pulled and unpacked once; the bridge task must serve on its port.
    for mode in ("none", "bridge"):
        ms, t, _ = start(mode)
        print(f"bench/start: warm-up {mode} task RUNNING after {ms:.0f} ms", file=sys.stderr)
        if mode == "bridge":
            port = t["containers"][0]["networkBindings"][0]["hostPort"]
            body = b""
            for _ in range(50):  # httpd may not listen yet the instant the task is RUNNING
                try:
                    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            if b"bench" in body:
                print(f"bench/start: warm-up bridge task serves on 127.0.0.1:{port}", file=sys.stderr)
            else:
                # Another agent on this host (a test's) hands out host ports from the same range,
                # and its DNAT rule for the port may come first: then the check says nothing.
                nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
                others = [
                    l
                    for l in nat.splitlines()
                    if f"--dport {port} " in l and "DNAT" in l and f"--to-destination {subnet_prefix}" not in l
                ]
                if not others:
                    die(f"the bridge task does not serve on 127.0.0.1:{port}")
                print(
                    f"bench/start: WARNING: 127.0.0.1:{port} is also DNATed by another agent on this host "
                    f"({others[0].split('--to-destination ')[-1]}): the port check was skipped",
                    file=sys.stderr,
                )
        stop(t["taskArn"])

    def one(mode, record):
        ms, t, t0 = start(mode)
        # The task's own timestamps (ms precision; server and agent on this host, one clock):
        # RunTask call -> createdAt -> pullStartedAt -> pullStoppedAt -> startedAt -> seen.
        stamps = [ts(t.get(k)) for k in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt")]
        record.append([t["taskArn"].rsplit("/", 1)[1], t0, t0 + ms / 1000] + stamps)
        stop(t["taskArn"])
        return ms

    return {f"gantry-{m}": (lambda record, m=m: one(m, record)) for m in ("none", "bridge")}


def run_argv(argv):
    """Runs argv to its exit; returns (ms, exit code, stdout, stderr). Its output goes to files,
    not pipes: a container started detached may keep the runtime's stdout open (crun run -d), and a
    pipe would only reach EOF when the container exits."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        rc = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        ms = (time.perf_counter() - t0) * 1000.0
        out.seek(0)
        err.seek(0)
        return ms, rc, out.read().decode(errors="replace").strip(), err.read().decode(errors="replace").strip()


def command(name, start_argv, stop_argv):
    """A peer's case: one(record) runs START to its exit (timed, from just before the fork to the
    reaped exit), then STOP untimed ("{out}": START's stdout, stripped; "{i}": a counter)."""
    count = [0]

    def one(record):
        i = count[0]
        count[0] += 1
        sub = lambda argv, o="": [a.replace("{i}", str(i)).replace("{out}", o) for a in argv]
        ms, rc, o, e = run_argv(sub(start_argv))
        if rc != 0:
            die(f"{name}: {' '.join(sub(start_argv))} exited {rc}: {e}")
        _, rc, _, e = run_argv(sub(stop_argv, o))
        if rc != 0:
            die(f"{name}: {' '.join(sub(stop_argv, o))} exited {rc}: {e}")
        return ms

    return one


def cpu_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), sum(v) - v[3] - v[4]  # total, busy (all but idle and iowait)


def settle(limit_s=SETTLE_LIMIT_S):
    """Waits until the machine is quiet (under SETTLE_BUSY of its CPU over 50 ms), SETTLE_LIMIT_S
    at most: what a runtime still does after its stop returned (docker's and podman's cleanups go
    on in the background) must not land on the next case's start."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        t0, b0 = cpu_ticks()
        time.sleep(0.05)
        t1, b1 = cpu_ticks()
        if t1 > t0 and (b1 - b0) / (t1 - t0) < SETTLE_BUSY:
            return True
    return False


def run(n, outdir, cases_file, gantry_args):
    """Every case once per round, N rounds, the order rotated by one each round: whatever else the
    machine does meets every case alike. One warm-up start per case first (not counted)."""
    cases = {}
    if gantry_args:
        cases.update(gantry(*gantry_args))
    for line in open(cases_file):
        if line.strip():
            name, start_argv, stop_argv = line.rstrip("\n").split("\t")
            cases[name] = command(name, json.loads(start_argv), json.loads(stop_argv))
            cases[name]([])
    names = list(cases)
    times = {k: [] for k in names}
    records = {k: [] for k in names}
    busy = 0
    for r in range(n):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            busy += not settle()
            times[name].append(cases[name](records[name]))
        if (r + 1) % 10 == 0:
            print(f"bench/start: {r + 1} of {n} rounds", file=sys.stderr)
    with open(os.path.join(outdir, "busy"), "w") as f:
        f.write(f"{busy} {n * len(names)}\n")
    for name in names:
        with open(os.path.join(outdir, f"{name}.txt"), "w") as f:
            f.write("".join(f"{v:.3f}\n" for v in times[name]))
        if records[name]:
            with open(os.path.join(outdir, f"{name}.tasks"), "w") as f:
                f.write("".join(" ".join(x[:1] + [f"{v:.6f}" if v else "-" for v in x[1:]]) + "\n" for x in records[name]))


def stats(files):
    for fn in files:
        with open(fn) as f:
            v = [float(x) for x in f.read().split()]
        print(f"{pct(v, 50):.1f} {pct(v, 99):.1f}")


def phases(mode, path):
    import statistics

    cols = []
    for line in open(path):
        f = line.split()
        if len(f) != 7 or "-" in f:
            continue
        t0, seen, created, pull0, pull1, started = map(float, f[1:])
        cols.append([created - t0, pull0 - created, pull1 - pull0, started - pull1, seen - started])
    med = [statistics.median(c) * 1000 for c in zip(*cols)] if cols else [float("nan")] * 5
    print(f"  {mode:<8s} {med[0]:14.1f} {med[1]:16.1f} {med[2]:14.1f} {med[3]:18.1f} {med[4]:15.1f}")


def drain(endpoint, cluster, agent_state):
    import boto3

    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="us-east-1")
    arns = []
    for status in ("RUNNING", "STOPPED"):
        for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus=status):
            arns += page["taskArns"]
    for arn in arns:
        ecs.stop_task(cluster=cluster, task=arn, reason="bench cleanup")
    tasks_dir = os.path.join(agent_state, "crun-runtime", "tasks")
    deadline = time.time() + 30
    while os.path.isdir(tasks_dir) and os.listdir(tasks_dir) and time.time() < deadline:
        time.sleep(0.1)


def main():
    if len(sys.argv) < 2:
        die(__doc__)
    what, a = sys.argv[1], sys.argv[2:]
    if what == "run" and len(a) in (3, 8):
        run(int(a[0]), a[1], a[2], a[3:])
    elif what == "stats" and a:
        stats(a)
    elif what == "phases" and len(a) == 2:
        phases(*a)
    elif what == "drain" and len(a) == 3:
        drain(*a)
    else:
        die(__doc__)


if __name__ == "__main__":
    main()
