"""End to end: container instances, RunTask placement, the task lifecycle and the agent protocol,
with hollow agents (`gantry agent --runtime fake`) driven through boto3 and the AWS CLI, as
issue 3 describes: three agents of different sizes and attributes; binpack, spread, memberOf and
distinctInstance; waiters; failures; draining; a killed agent disconnecting; resources going down
and back up exactly; a server restart keeping every task. Prints TAP; stops everything by PID."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

import e2elib

AGENT_TIMEOUT = 3
SERVER = None
AGENTS = {}  # name -> Popen
CLUSTER = "hosts"


def ecs():
    return e2elib.client(SERVER.endpoint)


def start_agent(name, cpu, memory, attrs, count=1, extra=()):
    key, secret, _ = e2elib.ACCOUNTS["A"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1")
    args = [e2elib.GANTRY_BIN, "agent", "--server", SERVER.endpoint, "--cluster", CLUSTER, "--runtime", "fake",
            "--cpu", str(cpu), "--memory", str(memory), "--count", str(count),
            "--state", os.path.join(SERVER.tmp, "agent-" + name)]
    for a in attrs:
        args += ["--attribute", a]
    args += list(extra)
    log = open(os.path.join(SERVER.tmp, "agent-%s.log" % name), "ab")
    AGENTS[name] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()


def stop_agents():
    for p in AGENTS.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_for(pred, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def instances(c):
    arns = c.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    if not arns:
        return []
    return c.describe_container_instances(cluster=CLUSTER, containerInstances=arns)["containerInstances"]


def by_zone(c):
    out = {}
    for ci in instances(c):
        az = [a.get("value") for a in ci["attributes"] if a["name"] == "ecs.availability-zone"][0]
        out[az] = ci
    return out


def remaining(ci, name):
    return [r for r in ci["remainingResources"] if r["name"] == name][0]["integerValue"]


def setup(server):
    c = e2elib.client(server.endpoint)
    c.create_cluster(clusterName=CLUSTER)
    c.register_task_definition(family="small", containerDefinitions=[
        {"name": "app", "image": "busybox", "cpu": 128, "memory": 256}])
    c.register_task_definition(family="web", containerDefinitions=[
        {"name": "app", "image": "busybox", "cpu": 128, "memory": 128,
         "portMappings": [{"containerPort": 80}]}])
    c.register_task_definition(family="huge", containerDefinitions=[
        {"name": "app", "image": "busybox", "memory": 100000}])
    # Three hollow agents of different sizes and attributes.
    start_agent("a", 2048, 4096, ["ecs.availability-zone=us-east-1a", "stack=prod"])
    start_agent("b", 2048, 4096, ["ecs.availability-zone=us-east-1b", "stack=prod"])
    start_agent("c", 1024, 2048, ["ecs.availability-zone=us-east-1c", "stack=test"])
    wait_for(lambda: len(instances(c)) == 3 and all(i["agentConnected"] for i in instances(c)),
             what="three agents registered and connected")


def stop_all(c, family=None):
    arns = c.list_tasks(cluster=CLUSTER)["taskArns"]
    for a in arns:
        c.stop_task(cluster=CLUSTER, task=a, reason="test cleanup")
    if arns:
        c.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=arns[:100],
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 60})


class Placement(unittest.TestCase):
    def setUp(self):
        self.c = ecs()
        stop_all(self.c)

    def test_binpack_fills_one_instance_first(self):
        r = self.c.run_task(cluster=CLUSTER, taskDefinition="small", count=10,
                            placementStrategy=[{"type": "binpack", "field": "memory"}])
        self.assertEqual(len(r["tasks"]), 10, r["failures"])
        hosts = {}
        for t in r["tasks"]:
            hosts[t["containerInstanceArn"]] = hosts.get(t["containerInstanceArn"], 0) + 1
        # The smallest instance (c, 2048 MiB) takes 8 of 256 MiB; the other 2 go to one more.
        self.assertEqual(sorted(hosts.values()), [2, 8], hosts)

    def test_spread_instance_balances(self):
        r = self.c.run_task(cluster=CLUSTER, taskDefinition="small", count=9,
                            placementStrategy=[{"type": "spread", "field": "instanceId"}])
        self.assertEqual(len(r["tasks"]), 9, r["failures"])
        hosts = {}
        for t in r["tasks"]:
            hosts[t["containerInstanceArn"]] = hosts.get(t["containerInstanceArn"], 0) + 1
        self.assertEqual(sorted(hosts.values()), [3, 3, 3])

    def test_member_of_picks_matching_instances(self):
        r = self.c.run_task(cluster=CLUSTER, taskDefinition="small", count=6,
                            placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == prod"}])
        self.assertEqual(len(r["tasks"]), 6, r["failures"])
        zones = {az: ci["containerInstanceArn"] for az, ci in by_zone(self.c).items()}
        for t in r["tasks"]:
            self.assertNotEqual(t["containerInstanceArn"], zones["us-east-1c"])

    def test_distinct_instance_never_doubles_up(self):
        r = self.c.run_task(cluster=CLUSTER, taskDefinition="small", count=5,
                            placementConstraints=[{"type": "distinctInstance"}])
        self.assertEqual(len(r["tasks"]), 3)
        self.assertEqual(len({t["containerInstanceArn"] for t in r["tasks"]}), 3)
        self.assertEqual(len(r["failures"]), 2)
        self.assertEqual(r["failures"][0]["reason"], "DistinctInstance placement constraint unsatisfied.")

    def test_task_that_fits_nowhere_fails(self):
        r = self.c.run_task(cluster=CLUSTER, taskDefinition="huge")
        self.assertEqual(r["tasks"], [])
        self.assertEqual(r["failures"][0]["reason"], "RESOURCE:MEMORY")
        self.assertIn(":container-instance/", r["failures"][0]["arn"])


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.c = ecs()
        stop_all(self.c)

    def test_waiters_and_resources_exact(self):
        before = {az: (remaining(ci, "CPU"), remaining(ci, "MEMORY")) for az, ci in by_zone(self.c).items()}
        r = self.c.run_task(cluster=CLUSTER, taskDefinition="web", count=3,
                            placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}])
        arns = [t["taskArn"] for t in r["tasks"]]
        self.assertEqual(len(arns), 3)
        # The stock AWS CLI's waiter, as a user would run it.
        cli = ["aws", "--endpoint-url", SERVER.endpoint, "ecs", "wait", "tasks-running", "--cluster", CLUSTER,
               "--tasks"] + arns
        env = dict(os.environ, AWS_ACCESS_KEY_ID=e2elib.ACCOUNTS["A"][0],
                   AWS_SECRET_ACCESS_KEY=e2elib.ACCOUNTS["A"][1], AWS_DEFAULT_REGION="us-east-1")
        subprocess.run(cli, env=env, check=True, timeout=120)
        tasks = self.c.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
        for t in tasks:
            self.assertEqual(t["lastStatus"], "RUNNING")
            self.assertIn("startedAt", t)
            hp = t["containers"][0]["networkBindings"][0]["hostPort"]
            self.assertTrue(49153 <= hp <= 65535, hp)
        during = {az: (remaining(ci, "CPU"), remaining(ci, "MEMORY")) for az, ci in by_zone(self.c).items()}
        for az in before:
            self.assertEqual(during[az], (before[az][0] - 128, before[az][1] - 128), az)
        for a in arns:
            self.c.stop_task(cluster=CLUSTER, task=a, reason="enough")
        cli[5] = "tasks-stopped"
        subprocess.run(cli, env=env, check=True, timeout=120)
        tasks = self.c.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
        for t in tasks:
            self.assertEqual(t["lastStatus"], "STOPPED")
            self.assertEqual(t["stopCode"], "UserInitiated")
            self.assertEqual(t["stoppedReason"], "enough")
        after = {az: (remaining(ci, "CPU"), remaining(ci, "MEMORY")) for az, ci in by_zone(self.c).items()}
        self.assertEqual(after, before)

    def test_draining_instance_gets_no_new_tasks(self):
        zones = by_zone(self.c)
        a = zones["us-east-1a"]["containerInstanceArn"]
        self.c.update_container_instances_state(cluster=CLUSTER, containerInstances=[a], status="DRAINING")
        try:
            r = self.c.run_task(cluster=CLUSTER, taskDefinition="small", count=10)
            self.assertTrue(r["tasks"])
            for t in r["tasks"]:
                self.assertNotEqual(t["containerInstanceArn"], a)
        finally:
            self.c.update_container_instances_state(cluster=CLUSTER, containerInstances=[a], status="ACTIVE")


class Z_Resilience(unittest.TestCase):
    """Runs last: it kills an agent and restarts the server."""

    def test_killed_agent_disconnects_and_restart_keeps_tasks(self):
        c = ecs()
        stop_all(c)
        r = c.run_task(cluster=CLUSTER, taskDefinition="small", count=4,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
        arns = [t["taskArn"] for t in r["tasks"]]
        c.get_waiter("tasks_running").wait(cluster=CLUSTER, tasks=arns, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        before = {t["taskArn"]: (t["lastStatus"], t["containerInstanceArn"])
                  for t in c.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]}
        # The server restarts; every task is still there, as it was.
        SERVER.stop(signal.SIGTERM)
        SERVER.start()
        c = ecs()
        after = {t["taskArn"]: (t["lastStatus"], t["containerInstanceArn"])
                 for t in c.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]}
        self.assertEqual(after, before)
        # Agents come back (they retry); kill one: its instance is disconnected within the timeout.
        wait_for(lambda: all(i["agentConnected"] for i in instances(c)), timeout=30, what="agents reconnected")
        victim = AGENTS["c"]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        t0 = time.time()
        wait_for(lambda: not by_zone(c)["us-east-1c"]["agentConnected"], timeout=AGENT_TIMEOUT + 10,
                 what="agentConnected false")
        self.assertLess(time.time() - t0, AGENT_TIMEOUT + 5)
        # A disconnected instance takes no new tasks.
        cid = by_zone(c)["us-east-1c"]["containerInstanceArn"]
        r = c.run_task(cluster=CLUSTER, taskDefinition="small", count=6,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
        for t in r["tasks"]:
            self.assertNotEqual(t["containerInstanceArn"], cid)


def main():
    global SERVER
    SERVER = e2elib.Server(extra_args=["--agent-timeout", str(AGENT_TIMEOUT)])
    return e2elib.run_tap(sys.modules[__name__], SERVER, before=setup, after=stop_agents)


if __name__ == "__main__":
    sys.exit(main())
