"""Shared helpers for gantry's Python end-to-end tests and the shell suites' Python parts.

Starts a `gantry server` on a free port with its own state directory and the same two accounts as
lib.sh, makes boto3 clients for it, and sends raw SigV4-signed (or deliberately mis-signed)
requests through http.client so that status codes, headers and bodies can be checked byte for
byte. Works with the machine's boto3 and with Debian 12's python3-boto3 (botocore 1.29).
"""
import datetime
import hashlib
import http.client
import json
import os
import traceback
import unittest
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(E2E_DIR))
GANTRY_BIN = os.environ.get("GANTRY_BIN") or os.path.join(ROOT, "build", "san", "gantry")

# The same accounts as lib.sh.
ACCOUNTS = {
    "A": ("GKIATESTACCOUNTAAAAA", "secretA/0123456789abcdefghijklmnopqrstuv", "111111111111"),
    "B": ("GKIATESTACCOUNTBBBBB", "secretB/0123456789abcdefghijklmnopqrstuv", "222222222222"),
}
ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"

# Keep the user's own AWS configuration out of the tests.
for _v in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS"):
    os.environ.pop(_v, None)
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


def write_credentials(path):
    with open(path, "w") as f:
        for key, secret, acct in ACCOUNTS.values():
            f.write("%s %s %s\n" % (key, secret, acct))


class Server:
    """A gantry server on 127.0.0.1 with state under tmp/data. Stopped by PID, never by name."""

    def __init__(self, tmp=None, port=0, extra_args=()):
        self.extra_args = list(extra_args)
        self.own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="gantry-e2e-py.")
        self.data = os.path.join(self.tmp, "data")
        self.creds = os.path.join(self.tmp, "credentials")
        self.ready = os.path.join(self.tmp, "ready")
        self.log = os.path.join(self.tmp, "server.log")
        self.port = port
        self.proc = None
        self.endpoint = None
        if not os.path.exists(self.creds):
            write_credentials(self.creds)

    def start(self, timeout=20):
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [GANTRY_BIN, "server", "--listen", "127.0.0.1:%d" % self.port, "--data", self.data,
             "--credentials", self.creds, "--ready-file", self.ready] + self.extra_args,
            stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.ready) and os.path.getsize(self.ready) > 0:
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not (os.path.exists(self.ready) and os.path.getsize(self.ready) > 0):
            self.stop(signal.SIGKILL)
            raise RuntimeError("gantry server did not start:\n" + self.log_text())
        with open(self.ready) as f:
            self.endpoint = f.read().strip()
        # Restarts come back on the same port, so clients made earlier keep working.
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        return self.endpoint

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the server and waits; returns its exit status (negative: killed by a signal)."""
        if not self.proc:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        self.proc = None
        return rc

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def sanitizer_report(self):
        """The sanitizer lines of the server log, or '' when there are none."""
        lines = [l for l in self.log_text().splitlines()
                 if "Sanitizer" in l or "runtime error:" in l]
        return "\n".join(lines)

    def cleanup(self):
        self.stop()
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def client(endpoint, account="A", service="ecs", region="us-east-1", retries=True):
    """A boto3 client for one of the test accounts. retries=False: exactly one attempt per call, so
    that an answer is an acknowledgement and a failure is visible."""
    import boto3
    from botocore.config import Config
    key, secret, _ = ACCOUNTS[account]
    cfg = Config(retries={"max_attempts": 3 if retries else 0}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
        aws_secret_access_key=secret, config=cfg)


def _sign(req, key, secret, region, service, when):
    """SigV4-signs an AWSRequest as of `when` (a naive UTC datetime), through botocore's signer."""
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    class At(SigV4Auth):
        def add_auth(self, request):
            request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
            self._modify_request_before_signing(request)
            canonical = self.canonical_request(request)
            sts = self.string_to_sign(request, canonical)
            self._inject_signature_to_request(request, self.signature(sts, request))

    At(Credentials(key, secret), service, region).add_auth(req)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # lowercased names
        self.body = body
        self.elapsed = elapsed
        try:
            self.json = json.loads(body.decode()) if body else None
        except ValueError:
            self.json = None

    def as_dict(self):
        return {"status": self.status, "headers": self.headers, "body": self.body.decode("utf-8", "replace"),
                "json": self.json, "elapsed": self.elapsed}


def signed_request(endpoint, operation, body, account="A", key=None, secret=None, region="us-east-1",
                   service="ecs", target_prefix=ECS_PREFIX, skew=0, extra_headers=None, sign=True,
                   body_after_signing=None, headers_after_signing=None, signature=None):
    """Builds a JSON 1.1 request for `operation` with `body` (str/bytes/object), signs it (as of now
    + skew seconds) unless sign=False, optionally swaps the body or headers after signing or replaces
    the signature, and returns (method, path, headers, body) ready to send."""
    from botocore.awsrequest import AWSRequest
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if operation is not None:
        headers["X-Amz-Target"] = "%s.%s" % (target_prefix, operation) if target_prefix else operation
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    if sign:
        k, s, _ = ACCOUNTS[account]
        _sign(req, key or k, secret or s, region, service, utcnow() + datetime.timedelta(seconds=skew))
    out = dict(req.headers.items())
    if signature is not None:
        out["Authorization"] = out["Authorization"].rsplit("Signature=", 1)[0] + "Signature=" + signature
    if headers_after_signing:
        out.update(headers_after_signing)
    if body_after_signing is not None:
        body = body_after_signing.encode() if isinstance(body_after_signing, str) else body_after_signing
    return "POST", "/", out, body


def send(endpoint, method, path, headers, body, timeout=30):
    u = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    t0 = time.time()
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return Response(r.status, hdrs, data, time.time() - t0)
    finally:
        conn.close()


def call(endpoint, operation, body=None, **kw):
    """Sends one signed request and returns the Response."""
    m, p, h, b = signed_request(endpoint, operation, {} if body is None else body, **kw)
    return send(endpoint, m, p, h, b)


def payload_sha256(body):
    return hashlib.sha256(body).hexdigest()


def tap(n, ok, desc, detail=None):
    print("%s %d - %s" % ("ok" if ok else "not ok", n, desc))
    if not ok and detail:
        for line in str(detail).splitlines()[:30]:
            print("#   " + line)
    sys.stdout.flush()


def send_raw(endpoint, method, path, headers, body=b"", declared_length=None, chunked=False, timeout=10):
    """Speaks HTTP/1.1 over a bare socket, so that a request can declare a length it never sends or
    stream a chunked body. Sending stops quietly if the server closes the connection early. Returns
    a dict: status (0 when no answer came), headers (lowercased), body, json, elapsed (seconds from
    the first byte sent to the end of the answer), send_error, timed_out."""
    import re
    import socket
    u = urllib.parse.urlparse(endpoint)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (u.hostname, u.port)]
    for k, v in headers.items():
        if k.lower() not in ("host", "content-length", "transfer-encoding"):
            lines.append("%s: %s" % (k, v.decode() if isinstance(v, bytes) else v))
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append("Content-Length: %d" % (len(body) if declared_length is None else declared_length))
    t0 = time.time()
    send_error = None
    timed_out = False
    data = b""
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if chunked:
            for i in range(0, len(body), 65536):
                piece = body[i:i + 65536]
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(body)
    except OSError as e:
        send_error = str(e)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(rest) >= int(m.group(1)):
                    break
    except socket.timeout:
        timed_out = True
    except OSError as e:
        send_error = send_error or str(e)
    elapsed = time.time() - t0
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    hl = head.decode("latin-1").split("\r\n")
    status = 0
    if hl and hl[0].startswith("HTTP/"):
        status = int(hl[0].split()[1])
    hdrs = {}
    for line in hl[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    try:
        js = json.loads(rest.decode()) if rest else None
    except ValueError:
        js = None
    return {"status": status, "headers": hdrs, "body": rest.decode("utf-8", "replace"), "json": js,
            "elapsed": elapsed, "send_error": send_error, "timed_out": timed_out}


class TapResult(unittest.TestResult):
    """Prints one TAP line per test as it finishes."""

    def __init__(self):
        super().__init__()
        self.n = 0
        self.failed = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        name = "%s.%s" % (type(test).__name__, getattr(test, "_testMethodName", str(test)))
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, name, extra))
        sys.stdout.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def _bad(self, test, err):
        self.failed += 1
        self._line(False, test)
        for line in "".join(traceback.format_exception(*err)).splitlines()[-25:]:
            print("#   " + line)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._bad(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._bad(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP %s" % reason)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed += 1
        self._line(False, test, " (unexpected success)")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")



def run_tap(module, server, before=None, after=None):
    """Runs the unittest cases of `module` against `server` (started here) and prints TAP, then
    checks that the server stops cleanly on SIGTERM and left no sanitizer report. before(server)
    runs once the server is up; after() runs last, whatever happened. Returns the exit status."""
    result = TapResult()
    try:
        try:
            server.start()
            if before:
                before(server)
        except Exception as e:
            print("Bail out! %s" % e)
            return 1
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        suite.run(result)
        if after:
            after()
        rc = server.stop(signal.SIGTERM)
        result.n += 1
        ok = rc == 0
        print("%s %d - server shuts down cleanly on SIGTERM (exit %s)" % ("ok" if ok else "not ok", result.n, rc))
        result.failed += 0 if ok else 1
        report = server.sanitizer_report()
        result.n += 1
        print("%s %d - no sanitizer report in the server log" % ("not ok" if report else "ok", result.n))
        if report:
            result.failed += 1
            for line in report.splitlines()[:20]:
                print("#   " + line)
        print("1..%d" % result.n)
        return 1 if result.failed else 0
    finally:
        if after:
            try:
                after()
            except Exception:
                pass
        server.cleanup()


def stream_messages(logs, group, stream, until=None, limit_s=60):
    """Every message of a log stream, oldest first, read with get_log_events page by page (logs: a
    boto3 Logs client). With until (a predicate over the list), reads again, once a second, until
    it holds or limit_s seconds have gone by: the awslogs driver ships in the background."""
    deadline = time.time() + limit_s
    while True:
        msgs, token = [], None
        while True:
            kw = dict(logGroupName=group, logStreamName=stream, startFromHead=True)
            if token:
                kw["nextToken"] = token
            r = logs.get_log_events(**kw)
            msgs += [e["message"] for e in r["events"]]
            if r["nextForwardToken"] == token:
                break
            token = r["nextForwardToken"]
        if until is None or until(msgs) or time.time() > deadline:
            return msgs
        time.sleep(1)
