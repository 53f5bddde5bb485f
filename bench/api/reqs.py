#!/usr/bin/env python3
"""Builds the signed ECS requests that bench/api/run.sh replays with wrk, and sets up a target.

Usage: reqs.py ENDPOINT KEY SECRET OUTDIR NCREATE NMIX

For the target at ENDPOINT (http://HOST:PORT) this
  1. creates the cluster `bench` and registers the task definition family `bench-web` (what the
     Describe requests read), registers the family `bench-run` (one container, memory 6, no host
     port) and BENCH_MOTO_INSTANCES (40) container instances for RunTask to place on, each offering
     10^8 CPU and MEMORY (gantry keeps the offer; moto_server ignores it and gives each 4096 CPU /
     7482 MiB, room for 1247 of these tasks, hence 40), runs one task for DescribeTasks, through the same
     kind of signed requests, then sends one request of
     each kind and checks that it answers 200 with the expected document;
  2. writes one request file per workload into OUTDIR (format below):
       create-cluster.req     NCREATE CreateCluster requests, each for a new name (bench-c-N)
       describe-clusters.req  DescribeClusters of `bench`
       register-td.req        RegisterTaskDefinition of family `bench-reg` (every call is a new revision)
       describe-td.req        DescribeTaskDefinition of `bench-web` (the latest revision)
       run-task.req           RunTask of one task of family `bench-run` on cluster `bench` (every call
                              places a new task)
       describe-tasks.req     DescribeTasks of one task RunTask placed in set-up
       mix-create.req         NMIX more CreateCluster requests (bench-m-N) for the mix, which
                              load.lua interleaves with the three fixed requests above; so no
                              CreateCluster in any run is an idempotent no-op.
A request file is the decimal count of requests on its first line, then for each request its length
in bytes on a line of its own followed by the raw HTTP/1.1 request (bench/api/load.lua reads it).

Requests are SigV4-signed (service ecs, region us-east-1) once, here, with the current time: a run
of a few minutes stays well inside the 15 minutes of clock skew that gantry accepts. Signing ~10^5
requests through botocore would take tens of seconds, so sign() below is a direct implementation of
the algorithm; before anything is written it is checked byte for byte against botocore's SigV4Auth
(the signer the AWS CLI and boto3 use) on a request of every kind.
"""
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
SERVICE = "ecs"
PREFIX = "AmazonEC2ContainerServiceV20141113."
CTYPE = "application/x-amz-json-1.1"
SIGNED_HEADERS = "content-type;host;x-amz-date;x-amz-target"

# RunTask's task: small, no host port, so that one instance holds as many as a run places.
TD_RUN = {"family": "bench-run", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 6}]}
# moto_server: container instances to register (each holds 7482 / 6 = 1247 of these tasks).
RUNTASK_INSTANCES = int(os.environ.get("BENCH_MOTO_INSTANCES", "40"))

HERE = os.path.dirname(os.path.abspath(__file__))
TASKDEF_FILE = os.path.join(HERE, "..", "..", "tests", "e2e", "data", "web-app.json")


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Signer:
    def __init__(self, key, secret, amz_date):
        self.key = key
        self.secret = secret
        self.amz_date = amz_date
        day = amz_date[:8]
        self.scope = f"{day}/{REGION}/{SERVICE}/aws4_request"
        k = _hmac(("AWS4" + secret).encode(), day)
        k = _hmac(k, REGION)
        k = _hmac(k, SERVICE)
        self.signing_key = _hmac(k, "aws4_request")

    def sign(self, host, target, body):
        """The Authorization header for POST / with these headers and body."""
        canonical = (
            "POST\n/\n\n"
            f"content-type:{CTYPE}\nhost:{host}\nx-amz-date:{self.amz_date}\nx-amz-target:{target}\n\n"
            f"{SIGNED_HEADERS}\n{hashlib.sha256(body).hexdigest()}"
        )
        to_sign = (
            f"AWS4-HMAC-SHA256\n{self.amz_date}\n{self.scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        sig = hmac.new(self.signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"AWS4-HMAC-SHA256 Credential={self.key}/{self.scope}, "
            f"SignedHeaders={SIGNED_HEADERS}, Signature={sig}"
        )

    def request(self, host, op, payload):
        """(raw HTTP/1.1 request bytes, headers dict, body bytes) for one ECS operation."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        target = PREFIX + op
        headers = {
            "Host": host,
            "Content-Type": CTYPE,
            "X-Amz-Target": target,
            "X-Amz-Date": self.amz_date,
            "Authorization": self.sign(host, target, body),
            "Content-Length": str(len(body)),
        }
        head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        return head.encode() + body, headers, body


def check_against_botocore(key, secret, host, url, payloads):
    """Signs each (op, payload) with botocore and with Signer at botocore's timestamp; they must match."""
    creds = Credentials(key, secret)
    for op, payload in payloads:
        body = json.dumps(payload, separators=(",", ":")).encode()
        req = AWSRequest(
            method="POST",
            url=url + "/",
            data=body,
            headers={"Content-Type": CTYPE, "X-Amz-Target": PREFIX + op},
        )
        SigV4Auth(creds, SERVICE, REGION).add_auth(req)
        theirs = req.headers["Authorization"]
        ours = Signer(key, secret, req.headers["X-Amz-Date"]).sign(host, PREFIX + op, body)
        if ours != theirs:
            sys.exit(f"reqs.py: signer disagrees with botocore for {op}:\n  ours   {ours}\n  theirs {theirs}")


def send(host, port, raw_headers, body):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    hdrs = {k: v for k, v in raw_headers.items() if k not in ("Host", "Content-Length")}
    hdrs["Host"] = raw_headers["Host"]
    conn.request("POST", "/", body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def ec2_instances(endpoint, key, secret, n):
    """moto_server only: n EC2 instance ids from RunInstances (through boto3; set-up only)."""
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
                       aws_secret_access_key=secret)
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    return [i["InstanceId"] for i in ec2.run_instances(ImageId=ami, MinCount=n, MaxCount=n)["Instances"]]


def write_file(path, reqs):
    with open(path, "wb") as f:
        f.write(b"%d\n" % len(reqs))
        for r in reqs:
            f.write(b"%d\n" % len(r))
            f.write(r)


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__.split("\n\n")[1])
    endpoint, key, secret, outdir, ncreate, nmix = sys.argv[1:]
    ncreate, nmix = int(ncreate), int(nmix)
    u = urllib.parse.urlsplit(endpoint)
    host = u.netloc  # what an SDK puts in Host: HOST:PORT
    with open(TASKDEF_FILE) as f:
        taskdef = json.load(f)
    td_web = dict(taskdef, family="bench-web")
    td_reg = dict(taskdef, family="bench-reg")
    ops = {
        "create-cluster": ("CreateCluster", None),
        "run-task": ("RunTask", {"cluster": "bench", "taskDefinition": "bench-run", "count": 1}),
        "describe-tasks": ("DescribeTasks", None),  # the payload names the task placed in set-up
        "describe-clusters": ("DescribeClusters", {"clusters": ["bench"]}),
        "register-td": ("RegisterTaskDefinition", td_reg),
        "describe-td": ("DescribeTaskDefinition", {"taskDefinition": "bench-web"}),
    }
    check_against_botocore(
        key,
        secret,
        host,
        endpoint,
        [("CreateCluster", {"clusterName": "bench-c-0"}), ("DescribeTasks", {"cluster": "bench", "tasks": ["x"]})]
        + [v for v in ops.values() if v[1] is not None],
    )

    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    s = Signer(key, secret, amz_date)

    # Set up what the Describe requests read, through the same kind of signed requests.
    def setup(op, payload):
        _, hdrs, body = s.request(host, op, payload)
        status, data = send(u.hostname, u.port, hdrs, body)
        if status != 200:
            sys.exit(f"reqs.py: set-up {op} on {endpoint} answered {status}: {data[:300]!r}")
        return json.loads(data)

    setup("CreateCluster", {"clusterName": "bench"})
    setup("RegisterTaskDefinition", td_web)
    setup("RegisterTaskDefinition", TD_RUN)
    ids = [f"i-{i:017x}" for i in range(RUNTASK_INSTANCES)]

    def register(instance_id):
        ident = {"instanceId": instance_id, "availabilityZone": "us-east-1a", "region": REGION,
                 "instanceType": "gantry.host"}
        big = 10**8  # the most gantry accepts
        _, hdrs, body = s.request(host, "RegisterContainerInstance", {
            "cluster": "bench",
            "instanceIdentityDocument": json.dumps(ident),
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": big},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": big},
            ],
        })
        return send(u.hostname, u.port, hdrs, body)

    for i in range(RUNTASK_INSTANCES):
        status, data = register(ids[i])
        if i == 0 and b"InvalidInstanceID.NotFound" in data:
            # moto_server wants an EC2 instance of its own behind each container instance
            ids = ec2_instances(endpoint, key, secret, RUNTASK_INSTANCES)
            status, data = register(ids[i])
        if status != 200:
            sys.exit(f"reqs.py: set-up RegisterContainerInstance on {endpoint} answered {status}: {data[:300]!r}")
    d = setup("RunTask", ops["run-task"][1])
    if len(d.get("tasks", [])) != 1 or d.get("failures"):
        sys.exit(f"reqs.py: set-up RunTask on {endpoint} placed no task: {d}")
    task_arn = d["tasks"][0]["taskArn"]
    ops["describe-tasks"] = ("DescribeTasks", {"cluster": "bench", "tasks": [task_arn]})

    os.makedirs(outdir, exist_ok=True)
    fixed = {
        name: s.request(host, op, payload)[0] for name, (op, payload) in ops.items() if payload is not None
    }
    # Check each request kind once, answer included: a benchmark of errors is worthless, and so is
    # one of a Describe that finds nothing.
    expect = {
        "create-cluster": lambda d: d["cluster"]["status"] == "ACTIVE",
        "describe-clusters": lambda d: [c["clusterName"] for c in d["clusters"]] == ["bench"]
        and not d["failures"],
        "register-td": lambda d: d["taskDefinition"]["family"] == "bench-reg",
        "describe-td": lambda d: d["taskDefinition"]["family"] == "bench-web"
        and len(d["taskDefinition"]["containerDefinitions"]) == 2,
        "run-task": lambda d: len(d["tasks"]) == 1 and not d.get("failures"),
        "describe-tasks": lambda d: [t["taskArn"] for t in d["tasks"]] == [task_arn] and not d.get("failures"),
    }
    for name, (op, payload) in ops.items():
        _, hdrs, body = s.request(host, op, payload or {"clusterName": "bench-check"})
        status, data = send(u.hostname, u.port, hdrs, body)
        try:
            good = status == 200 and expect[name](json.loads(data))
        except (ValueError, KeyError, TypeError):
            good = False
        if not good:
            sys.exit(f"reqs.py: {op} on {endpoint} answered {status}: {data[:300]!r}")
        if name in fixed:
            write_file(os.path.join(outdir, name + ".req"), [fixed[name]])
    write_file(
        os.path.join(outdir, "create-cluster.req"),
        [s.request(host, "CreateCluster", {"clusterName": f"bench-c-{i}"})[0] for i in range(ncreate)],
    )
    write_file(
        os.path.join(outdir, "mix-create.req"),
        [s.request(host, "CreateCluster", {"clusterName": f"bench-m-{i}"})[0] for i in range(nmix)],
    )


if __name__ == "__main__":
    main()
