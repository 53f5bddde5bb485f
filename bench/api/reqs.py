#!/usr/bin/env python3
"""Builds the signed ECS requests that bench/api/run.sh replays with wrk, and sets up a target.

Usage: reqs.py ENDPOINT KEY SECRET OUTDIR NCREATE NMIX

For the target at ENDPOINT (http://HOST:PORT) this
  1. creates the cluster `bench` and registers the task definition family `bench-web` (what the
     Describe requests read), through the same kind of signed requests, then sends one request of
     each kind and checks that it answers 200 with the expected document;
  2. writes one request file per workload into OUTDIR (format below):
       create-cluster.req     NCREATE CreateCluster requests, each for a new name (bench-c-N)
       describe-clusters.req  DescribeClusters of `bench`
       register-td.req        RegisterTaskDefinition of family `bench-reg` (every call is a new revision)
       describe-td.req        DescribeTaskDefinition of `bench-web` (the latest revision)
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
        "describe-clusters": ("DescribeClusters", {"clusters": ["bench"]}),
        "register-td": ("RegisterTaskDefinition", td_reg),
        "describe-td": ("DescribeTaskDefinition", {"taskDefinition": "bench-web"}),
    }
    check_against_botocore(
        key,
        secret,
        host,
        endpoint,
        [("CreateCluster", {"clusterName": "bench-c-0"})] + [v for v in ops.values() if v[1] is not None],
    )

    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    s = Signer(key, secret, amz_date)

    # Set up what the Describe requests read, through the same kind of signed requests.
    for op, payload in (("CreateCluster", {"clusterName": "bench"}), ("RegisterTaskDefinition", td_web)):
        _, hdrs, body = s.request(host, op, payload)
        status, data = send(u.hostname, u.port, hdrs, body)
        if status != 200:
            sys.exit(f"reqs.py: set-up {op} on {endpoint} answered {status}: {data[:300]!r}")

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
