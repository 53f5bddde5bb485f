#!/usr/bin/env python3
"""bench/start's profile (BENCH_PROFILE=1 bench/start/run.sh): where gantry's RunTask -> RUNNING
goes, per task, from three clocks that are one (CLOCK_REALTIME on this host):
  - OUTDIR/gantry-<mode>.tasks (starts.py): the RunTask call, the DescribeTasks answer that said
    RUNNING, and the task's createdAt / pullStartedAt / pullStoppedAt / startedAt (ms);
  - the agent's debug log: "starting task" (the poll's answer handled), "running", "reporting
    RUNNING", "RUNNING acknowledged" (ms);
  - `perf script` of the kernel's sched_process_fork / exec / exit tracepoints (perf record -a -k
    CLOCK_MONOTONIC; OFFSET = realtime - monotonic): every program the agent (pid AGENT_PID) ran,
    directly or not: the CNI plugins and their iptables, conmon, crun create (run by conmon), crun
    start (run by the agent). Tracepoints stop nobody: the figures are those of a normal run, give
    or take perf's own CPU.
Prints the median of each step per mode, in ms, and the steps of the slowest task.

usage: profile.py AGENT_LOG PERF_SCRIPT_TEXT OFFSET AGENT_PID OUTDIR
"""
import collections
import datetime
import os
import re
import statistics
import sys

CNI = {"bridge", "host-local", "portmap", "firewall", "loopback"}


def log_events(path):
    """task id -> {event: epoch seconds} from the agent's debug log."""
    ev = collections.defaultdict(dict)
    pat = re.compile(r"^(\S+)Z debug agent \S+ task (?:arn:\S+/)?([0-9a-f]{32})\b:? ?(.*)$")
    start = re.compile(r"^(\S+)Z debug agent \S+ starting task arn:\S+/([0-9a-f]{32})$")
    for line in open(path):
        line = line.rstrip("\n")
        m = start.match(line)
        if m:
            ev[m.group(2)].setdefault("starting", stamp(m.group(1)))
            continue
        m = pat.match(line)
        if not m:
            continue
        when, tid, what = stamp(m.group(1)), m.group(2), m.group(3)
        key = {"running": "running", "reporting RUNNING": "reporting", "RUNNING acknowledged": "acked"}.get(what)
        if key:
            ev[tid].setdefault(key, when)
    return ev


def stamp(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()


def procs(path, offset, root):
    """The processes descended from pid root, from `perf script` of the sched_process_fork / exec /
    exit tracepoints: [[exec time, exit time or None, program name, parent program name]], epoch
    seconds (perf's CLOCK_MONOTONIC + offset)."""
    parent, prog, out = {}, {}, {}
    line_re = re.compile(r"^\s*(.+?)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)$")
    kv = lambda text: dict(re.findall(r"(\w+)=(\S+)", text))

    def ours(pid):
        seen = 0
        while pid and seen < 64:
            if pid == root:
                return True
            pid = parent.get(pid)
            seen += 1
        return False

    def named_parent(pid):
        """The program of pid's closest ancestor that has exec'd (or the agent)."""
        pid = parent.get(pid)
        while pid:
            if pid == root:
                return "gantry"
            if pid in prog:
                return prog[pid]
            pid = parent.get(pid)
        return None

    owner = {}  # thread id -> the pid of the process (the exec'd program) it belongs to
    for line in open(path):
        m = line_re.match(line)
        if not m:
            continue
        t, event, fields = float(m.group(3)) + offset, m.group(4), kv(m.group(5))
        if event == "sched_process_fork":
            child, par = int(fields["child_pid"]), int(fields["pid"])
            parent[child] = par
            prog.pop(child, None)  # a new process: what an earlier one by this pid ran is not its
            # A thread, or a child that will exec (then it becomes a process of its own).
            owner[child] = owner.get(par, par)
        elif event == "sched_process_exec":
            pid = int(fields["pid"])
            if not ours(pid):
                continue
            name = os.path.basename(fields["filename"])
            if pid in out and (fields["filename"].startswith("/dev/fd/") or fields["filename"].startswith("/proc/")):
                continue  # crun re-executes itself from a sealed copy (/dev/fd/N): the same program
            prog[pid] = name
            owner[pid] = pid
            out[pid] = [t, None, name, named_parent(pid)]
        elif event == "sched_process_exit" and fields.get("group_dead") == "true":
            # The last thread of a process to exit (a Go program's need not be its first).
            key = owner.get(int(fields["pid"]), int(fields["pid"]))
            if key in out and out[key][1] is None:
                out[key][1] = t
    return sorted(out.values())


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    log, trace, offset, root, outdir = sys.argv[1:]
    ev = log_events(log)
    ps = procs(trace, float(offset), int(root))
    for mode in ("none", "bridge"):
        path = os.path.join(outdir, f"gantry-{mode}.tasks")
        if not os.path.exists(path):
            continue
        steps = collections.defaultdict(list)
        order = []

        per_task = {}  # task id -> {step: ms}

        def add(name, v):
            if name not in steps:
                order.append(name)
            steps[name].append(v * 1000)
            per_task.setdefault(tid, {})[name] = v * 1000

        def first_seen(name):
            return order.index(name)

        for line in open(path):
            f = line.split()
            if len(f) != 7 or "-" in f:
                continue
            tid = f[0]
            t0, seen, created, pull0, pull1, started = map(float, f[1:])
            e = ev.get(tid, {})
            if not all(k in e for k in ("starting", "running", "reporting", "acked")):
                continue
            mine = [p for p in ps if e["starting"] - 0.002 <= p[0] <= e["running"] + 0.002]
            cni = [p for p in mine if p[2] in CNI and p[1]]
            ipt = [p for p in mine if p[2] in ("iptables", "ip6tables", "iptables-legacy", "iptables-nft") and p[1]]
            conmon = next((p for p in mine if p[2] == "conmon"), None)
            create = next((p for p in mine if p[2] == "crun" and p[3] == "conmon" and p[1]), None)
            startp = next((p for p in mine if p[2] == "crun" and p[3] == "gantry" and p[1]), None)
            if not (conmon and create and startp):
                continue
            add("RunTask call -> createdAt (server: placement, store)", created - t0)
            add("createdAt -> agent has the task (poll answer)", e["starting"] - created)
            add("agent has it -> pullStoppedAt (cached image)", pull1 - e["starting"])
            if cni:
                add("pulled -> first CNI plugin (net job, netns)", cni[0][0] - pull1)
                for name in ("bridge", "portmap", "firewall"):
                    p = [q for q in cni if q[2] == name]
                    if p:
                        add(f"  CNI {name} ADD (with host-local, iptables)", p[0][1] - p[0][0])
                add("  CNI ADD, all plugins", max(p[1] for p in cni) - cni[0][0])
                add("  of which iptables/ip6tables runs, exec to exit", sum(p[1] - p[0] for p in ipt))
                add("  number of iptables/ip6tables runs (a count, not ms)", len(ipt) / 1000)
                # The container is created while CNI runs (the agent starts it once the
                # network is ready): the create's steps overlap the plugins'.
                add("  in parallel: pulled -> conmon exec (create job: files, overlay, config)", conmon[0] - pull1)
                add("  in parallel: conmon exec -> crun create done", create[1] - conmon[0])
                add("    crun create (exec to exit)", create[1] - create[0])
                add("  in parallel: crun create done -> CNI done (waiting for the network)", max(p[1] for p in cni) - create[1])
                add("CNI done -> crun start exec (hosts file with the addresses)", startp[0] - max(p[1] for p in cni))
            else:
                add("pulled -> conmon exec (net job, create job: files, overlay, config)", conmon[0] - pull1)
                add("conmon exec -> crun create done", create[1] - conmon[0])
                add("  crun create (exec to exit)", create[1] - create[0])
                add("crun create done -> crun start exec", startp[0] - create[1])
            add("crun start (exec to exit)", startp[1] - startp[0])
            add("crun start done -> agent: task running", e["running"] - startp[1])
            add("running -> RUNNING acknowledged (SubmitTaskStateChange)", e["acked"] - e["running"])
            add("  of which: reported -> startedAt (server)", started - e["reporting"])
            add("acknowledged -> DescribeTasks says RUNNING (10 ms polls)", seen - e["acked"])
            add("total: RunTask call -> seen RUNNING", seen - t0)
            add("  of which pulled -> crun start done (the runtime's part)", startp[1] - pull1)
        n = len(steps[order[0]]) if order else 0
        print(f"\ngantry networkMode {mode}: median ms of {n} tasks")
        canon = [
            "CNI bridge ADD (with host-local, iptables)",
            "CNI portmap ADD (with host-local, iptables)",
            "CNI firewall ADD (with host-local, iptables)",
        ]
        cni_named = [f"  {c}" for c in canon if f"  {c}" in steps]
        if cni_named:  # the plugins in the list's order, wherever a task first showed each
            at = min(first_seen(c) for c in cni_named)
            order = [o for o in order if o not in cni_named]
            order[at:at] = cni_named
        total = "total: RunTask call -> seen RUNNING"
        slow = max(per_task, key=lambda k: per_task[k].get(total, 0)) if per_task else None
        print(f"  {'':<66s} {'median':>7s} {'slowest':>8s}")
        for name in order:
            v = statistics.median(steps[name])
            w = per_task[slow].get(name, float("nan")) if slow else float("nan")
            if "count" in name:
                print(f"  {name:<66s} {v:7.0f} {w:8.0f}")
            else:
                print(f"  {name:<66s} {v:7.1f} {w:8.1f}")
        if slow:
            print(f"  (slowest: task {slow})")


if __name__ == "__main__":
    main()
