"""The Python half of t40-durability.sh: a stream of mutations through boto3 that records what the
server acknowledged, raw snapshots of answers to compare byte for byte, and the check that every
acknowledged change survived a kill -9.

usage:
  durability.py setup ENDPOINT                 fixed resources the snapshots look at
  durability.py snapshot ENDPOINT FILE fixed|all  raw answers (bodies as the server sent them)
  durability.py stream ENDPOINT DIR ROUND THREADS  mutate until the server goes away; logs in DIR
  durability.py verify ENDPOINT DIR ROUND      every acknowledged change is there
"""
import json
import os
import sys
import threading
import time

import e2elib

ACCT = e2elib.ACCOUNTS["A"][2]
FIXED_CLUSTERS = ["fixed-a", "fixed-b", "fixed-gone"]
FIXED_FAMILY = "fixed-fam"
FIXED_PRINCIPAL = "arn:aws:iam::%s:user/fixed" % ACCT
CD = [{"name": "web", "image": "nginx:1.25", "memory": 128, "portMappings": [{"containerPort": 80}]}]


def setup(ep):
    ecs = e2elib.client(ep)
    for n in FIXED_CLUSTERS:
        ecs.create_cluster(clusterName=n, tags=[{"key": "fixed", "value": n}],
                           settings=[{"name": "containerInsights", "value": "enabled"}])
    ecs.delete_cluster(cluster="fixed-gone")
    for i in range(3):
        ecs.register_task_definition(family=FIXED_FAMILY, containerDefinitions=CD, cpu="0.5 vCPU", memory="1 GB",
                                     tags=[{"key": "rev", "value": str(i + 1)}])
    ecs.deregister_task_definition(taskDefinition=FIXED_FAMILY + ":2")
    ecs.tag_resource(resourceArn="arn:aws:ecs:us-east-1:%s:cluster/fixed-a" % ACCT,
                     tags=[{"key": "extra", "value": "1"}])
    ecs.put_account_setting(name="containerInsights", value="enabled", principalArn=FIXED_PRINCIPAL)
    ecs.put_account_setting_default(name="awsvpcTrunking", value="enabled")


def pages(ep, op, body, key):
    """Every page of a list operation, as raw bodies."""
    out, tok = [], None
    while True:
        b = dict(body)
        if tok:
            b["nextToken"] = tok
        r = e2elib.call(ep, op, b)
        if r.status != 200:
            raise RuntimeError("%s: %d %s" % (op, r.status, r.body))
        out.append(r.body.decode())
        tok = r.json.get("nextToken")
        if not tok:
            return out


def snapshot(ep, path, scope):
    snap = {}

    def one(name, op, body):
        r = e2elib.call(ep, op, body)
        if r.status != 200:
            raise RuntimeError("%s: %d %s" % (op, r.status, r.body))
        snap[name] = r.body.decode()

    all_inc = ["SETTINGS", "STATISTICS", "TAGS", "CONFIGURATIONS"]
    one("describe-clusters", "DescribeClusters", {"clusters": FIXED_CLUSTERS + ["never-was"], "include": all_inc})
    for rev in (1, 2, 3):
        one("describe-td-%d" % rev, "DescribeTaskDefinition",
            {"taskDefinition": "%s:%d" % (FIXED_FAMILY, rev), "include": ["TAGS"]})
    one("describe-td-latest", "DescribeTaskDefinition", {"taskDefinition": FIXED_FAMILY})
    snap["list-td-fixed"] = pages(ep, "ListTaskDefinitions", {"familyPrefix": FIXED_FAMILY, "status": "ACTIVE"},
                                  "taskDefinitionArns")
    snap["list-td-fixed-inactive"] = pages(ep, "ListTaskDefinitions",
                                           {"familyPrefix": FIXED_FAMILY, "status": "INACTIVE"}, "")
    snap["list-families-fixed"] = pages(ep, "ListTaskDefinitionFamilies", {"familyPrefix": "fixed", "status": "ALL"}, "")
    one("tags-fixed-a", "ListTagsForResource", {"resourceArn": "arn:aws:ecs:us-east-1:%s:cluster/fixed-a" % ACCT})
    one("settings-fixed", "ListAccountSettings", {"principalArn": FIXED_PRINCIPAL, "effectiveSettings": True})
    if scope == "all":
        clusters = pages(ep, "ListClusters", {}, "clusterArns")
        snap["list-clusters"] = clusters
        arns = [a for page in clusters for a in json.loads(page)["clusterArns"]]
        for i in range(0, len(arns), 100):
            one("describe-clusters-%d" % i, "DescribeClusters", {"clusters": arns[i:i + 100], "include": all_inc})
        for status in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
            snap["list-td-" + status] = pages(ep, "ListTaskDefinitions", {"status": status}, "")
        snap["list-families"] = pages(ep, "ListTaskDefinitionFamilies", {"status": "ALL"}, "")
        for page in snap["list-td-ACTIVE"] + snap["list-td-INACTIVE"]:
            for a in json.loads(page)["taskDefinitionArns"]:
                one("td " + a, "DescribeTaskDefinition", {"taskDefinition": a, "include": ["TAGS"]})
        snap["settings-root"] = pages(ep, "ListAccountSettings", {"effectiveSettings": True}, "")
        for t in range(8):
            p = "arn:aws:iam::%s:user/stream-%d" % (ACCT, t)
            snap["settings-" + p] = pages(ep, "ListAccountSettings", {"principalArn": p}, "")
    with open(path, "w") as f:
        json.dump(snap, f, indent=1, sort_keys=True)


def stream(ep, outdir, rnd, threads):
    """Each thread mutates until its first failure (the server was killed), logging an "attempt"
    line before each call and an "ack" line with the answer after it."""
    stop = threading.Event()

    def worker(k):
        ecs = e2elib.client(ep, retries=False)
        log = open(os.path.join(outdir, "r%s-t%d.log" % (rnd, k)), "w")
        created = []
        i = 0
        principal = "arn:aws:iam::%s:user/stream-%d" % (ACCT, k)
        while not stop.is_set():
            i += 1
            kind = i % 5
            cname = "r%s-t%d-c%d" % (rnd, k, i)
            if kind in (0, 1):
                op, args = "create_cluster", {"clusterName": cname, "tags": [{"key": "i", "value": str(i)}]}
            elif kind == 2:
                op, args = "register_task_definition", {"family": "r%s-t%d" % (rnd, k), "containerDefinitions": CD,
                                                        "tags": [{"key": "i", "value": str(i)}]}
            elif kind == 3 and created:
                op, args = "tag_resource", {"resourceArn": created[-1],
                                            "tags": [{"key": "k%d" % i, "value": "v%d" % i}]}
            elif kind == 4 and len(created) > 2 and i % 2 == 0:
                op, args = "delete_cluster", {"cluster": created.pop(0)}
            else:
                op, args = "put_account_setting", {"name": "containerInsights",
                                                   "value": ["enabled", "disabled", "enhanced"][i % 3],
                                                   "principalArn": principal}
            log.write(json.dumps({"kind": "attempt", "i": i, "op": op, "args": args}) + "\n")
            log.flush()
            try:
                res = getattr(ecs, op)(**args)
            except Exception as e:  # the server went away: this call may or may not have happened
                log.write(json.dumps({"kind": "error", "i": i, "error": repr(e)[:300]}) + "\n")
                log.flush()
                break
            res.pop("ResponseMetadata", None)
            log.write(json.dumps({"kind": "ack", "i": i, "op": op, "args": args, "result": res}, default=str) + "\n")
            log.flush()
            if op == "create_cluster":
                created.append(res["cluster"]["clusterArn"])
        log.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    deadline = time.time() + 60  # the shell kills the server long before this
    while any(t.is_alive() for t in ts) and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in ts:
        t.join()


def verify(ep, outdir, rnd):
    """Prints one line per problem; exits 1 if there is any. Also prints a summary."""
    ecs = e2elib.client(ep)
    problems = []
    acks = errors = 0
    for name in sorted(os.listdir(outdir)):
        if not name.startswith("r%s-" % rnd):
            continue
        lines = [json.loads(l) for l in open(os.path.join(outdir, name)) if l.strip()]
        last_setting = None  # (acked value, values possibly applied after it)
        deleted = set()
        for n, rec in enumerate(lines):
            if rec["kind"] == "error":
                errors += 1
            if rec["kind"] != "ack":
                continue
            acks += 1
            op, args, res = rec["op"], rec["args"], rec["result"]
            if op == "create_cluster":
                arn = res["cluster"]["clusterArn"]
                d = ecs.describe_clusters(clusters=[arn], include=["TAGS"])
                c = d["clusters"][0] if d["clusters"] else None
                if not c:
                    problems.append("acknowledged cluster %s is missing" % arn)
                elif arn not in deleted and c["status"] != "ACTIVE" and not any(
                        l.get("op") == "delete_cluster" and l["args"]["cluster"] == arn for l in lines[n + 1:]):
                    problems.append("acknowledged cluster %s is %s" % (arn, c["status"]))
                elif {"key": "i", "value": args["tags"][0]["value"]} not in c.get("tags", []):
                    problems.append("acknowledged cluster %s lost its creation tag: %s" % (arn, c.get("tags")))
            elif op == "delete_cluster":
                deleted.add(args["cluster"])
                d = ecs.describe_clusters(clusters=[args["cluster"]])
                st = [c["status"] for c in d["clusters"]]
                if st != ["INACTIVE"]:
                    problems.append("acknowledged delete of %s: status now %s" % (args["cluster"], st))
            elif op == "register_task_definition":
                td = res["taskDefinition"]
                d = ecs.describe_task_definition(taskDefinition=td["taskDefinitionArn"], include=["TAGS"])
                got = json.loads(json.dumps(d["taskDefinition"], default=str))
                if got != td:
                    problems.append("acknowledged %s differs after the restart:\n  acked %s\n  now   %s"
                                    % (td["taskDefinitionArn"], json.dumps(td, sort_keys=True),
                                       json.dumps(got, sort_keys=True)))
                if d.get("tags") != args["tags"]:
                    problems.append("acknowledged %s lost its tags: %s" % (td["taskDefinitionArn"], d.get("tags")))
            elif op == "tag_resource":
                arn = args["resourceArn"]
                # A delete of the cluster (answered or not) makes its tags unreadable.
                gone = any(l.get("op") == "delete_cluster" and l["args"]["cluster"] == arn for l in lines)
                if not gone:
                    tags = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
                    if args["tags"][0] not in tags:
                        problems.append("acknowledged tag %s on %s is missing: %s" % (args["tags"][0], arn, tags))
            elif op == "put_account_setting":
                # Later attempts that were never answered may have happened too.
                later = [l["args"]["value"] for l in lines[n + 1:]
                         if l["kind"] == "attempt" and l["op"] == "put_account_setting"]
                last_setting = (args["principalArn"], args["value"], later)
        # Revision numbers go on from the highest acknowledged one: never reused after a restart.
        revs = [l["result"]["taskDefinition"]["revision"] for l in lines
                if l["kind"] == "ack" and l["op"] == "register_task_definition"]
        if revs:
            fam = [l["args"]["family"] for l in lines if l.get("op") == "register_task_definition"][0]
            nxt = ecs.register_task_definition(family=fam, containerDefinitions=CD)["taskDefinition"]["revision"]
            if nxt <= max(revs):
                problems.append("family %s: revision %d was acknowledged, the next registration got %d"
                                % (fam, max(revs), nxt))
        if last_setting:
            p, v, later = last_setting
            s = ecs.list_account_settings(name="containerInsights", principalArn=p)["settings"]
            vals = [x["value"] for x in s]
            if vals != [v] and not (len(vals) == 1 and vals[0] in later):
                problems.append("acknowledged setting containerInsights=%s for %s: now %s" % (v, p, vals))
    print("# round %s: %d acknowledged mutations, %d threads cut off by the kill, %d problems"
          % (rnd, acks, errors, len(problems)))
    for p in problems[:20]:
        print("#   " + p.replace("\n", "\n#   "))
    if acks == 0:
        print("#   no mutation was acknowledged before the kill: the round tested nothing")
        return 1
    return 1 if problems else 0


def main():
    cmd, ep = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        setup(ep)
    elif cmd == "snapshot":
        snapshot(ep, sys.argv[3], sys.argv[4])
    elif cmd == "stream":
        stream(ep, sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "verify":
        sys.exit(verify(ep, sys.argv[3], sys.argv[4]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
