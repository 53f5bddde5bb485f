"""The behaviours the OCI distribution-spec (v1.1) conformance suite checks, run against a `gantry
server` this file starts (on a free port, with its own state directory) and stops by PID. Grouped as
the spec groups them: Pull, Push, Content Discovery, Content Management, plus the auth that gantry
puts in front of all of them (ECR registry passwords, HTTP Basic "AWS:<password>" or Bearer).

Standard library only: the ECR calls that create repositories and fetch passwords are SigV4-signed
here with hmac/hashlib, and the /v2/ requests go through http.client (or a bare socket where the
exact bytes on the wire matter, as for HEAD). Prints TAP ("ok N - name" / "not ok N - name").

Each test asserts what the spec says; where that is not obvious, a comment quotes the clause.
"""
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import unittest
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402

SERVER = None
PW = {}  # account letter -> registry password
REGION = "us-east-1"

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
AT_SBOM = "application/vnd.example.sbom.v1+json"
AT_SIG_CONFIG = "application/vnd.example.signature.config.v1+json"

EMPTY_DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
# The distribution spec's error code table (code-1 .. code-14): a 4xx JSON body's code MUST be one.
SPEC_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
              "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
              "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS"}


# ---- the ECR API, signed here (SigV4) ----

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def ecr(operation, body=None, account="A"):
    """One signed ECR JSON 1.1 call; returns e2elib.Response."""
    key, secret, _ = e2elib.ACCOUNTS[account]
    payload = json.dumps(body or {}).encode()
    amzdate = e2elib.utcnow().strftime("%Y%m%dT%H%M%SZ")
    day = amzdate[:8]
    headers = {"content-type": "application/x-amz-json-1.1", "host": "127.0.0.1:%d" % SERVER.port,
               "x-amz-date": amzdate, "x-amz-target": "AmazonEC2ContainerRegistry_V20150921." + operation}
    names = sorted(headers)
    canonical = "\n".join(["POST", "/", "", "".join("%s:%s\n" % (k, headers[k]) for k in names),
                           ";".join(names), hashlib.sha256(payload).hexdigest()])
    scope = "%s/%s/ecr/aws4_request" % (day, REGION)
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), day)
    for part in (REGION, "ecr", "aws4_request"):
        k = _hmac(k, part)
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key, scope, ";".join(names), sig)
    return e2elib.send(SERVER.endpoint, "POST", "/", headers, payload)


def create_repo(name, account="A"):
    r = ecr("CreateRepository", {"repositoryName": name}, account)
    if r.status != 200:
        raise RuntimeError("CreateRepository %s: %d %s" % (name, r.status, r.body[:300]))


def registry_password(account):
    r = ecr("GetAuthorizationToken", {}, account)
    if r.status != 200:
        raise RuntimeError("GetAuthorizationToken: %d %s" % (r.status, r.body[:300]))
    user, _, pw = base64.b64decode(r.json["authorizationData"][0]["authorizationToken"]).decode().partition(":")
    assert user == "AWS", user
    return pw


# ---- /v2/ requests ----

def basic(pw):
    return "Basic " + base64.b64encode(("AWS:" + pw).encode()).decode()


def v2(method, path, body=None, headers=None, account="A", auth=None):
    """A /v2/ request with Basic AWS:<password> of `account` (account=None: no credentials; auth: an
    Authorization header value of one's own). Returns e2elib.Response (headers lowercased)."""
    h = {}
    if auth is not None:
        h["Authorization"] = auth
    elif account is not None:
        h["Authorization"] = basic(PW[account])
    h.update(headers or {})
    return e2elib.send(SERVER.endpoint, method, path, h, body)


def raw_request(method, path, headers=None, account="A"):
    """Sends a request over a bare socket with Connection: close and reads to EOF, so that whatever
    bytes follow the header block are seen (http.client would not read a body after HEAD). Returns
    (status, headers lowercased, body bytes)."""
    s = socket.create_connection(("127.0.0.1", SERVER.port), timeout=10)
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % SERVER.port, "Connection: close"]
    if account is not None:
        lines.append("Authorization: " + basic(PW[account]))
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    hl = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in hl[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(hl[0].split()[1]), hdrs, body


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def with_query(location, **params):
    return location + ("&" if "?" in location else "?") + urllib.parse.urlencode(params)


def canon(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


class Base(unittest.TestCase):
    maxDiff = 4000

    # -- assertions --

    def assertError(self, r, status, code):
        """The answer is `status` with the spec's JSON error body naming `code`."""
        self.assertEqual(r.status, status, r.as_dict())
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        self.assertIsInstance(r.json, dict, r.body)
        self.assertIsInstance(r.json.get("errors"), list, r.json)
        self.assertTrue(r.json["errors"], r.json)
        self.assertEqual(r.json["errors"][0].get("code"), code, r.json)
        self.assertIsInstance(r.json["errors"][0].get("message", ""), str, r.json)

    def assertSpecCode(self, r, status):
        """A 4xx JSON error whose code is one of the spec's table."""
        self.assertEqual(r.status, status, r.as_dict())
        codes = [e.get("code") for e in (r.json or {}).get("errors", [])]
        self.assertTrue(codes, r.body)
        for c in codes:
            self.assertIn(c, SPEC_CODES, "error code %r is not in the distribution spec's table" % c)

    # -- pushing --

    def push_blob(self, repo, data):
        r = v2("POST", "/v2/%s/blobs/uploads/" % repo)
        self.assertEqual(r.status, 202, r.as_dict())
        d = sha(data)
        r = v2("PUT", with_query(r.headers["location"], digest=d), data,
               {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.as_dict())
        return d

    def put_manifest(self, repo, ref, body, media_type=MT_OCI_MANIFEST):
        h = {"Content-Type": media_type} if media_type else {}
        return v2("PUT", "/v2/%s/manifests/%s" % (repo, ref), body, h)

    def push_manifest(self, repo, ref, body, media_type=MT_OCI_MANIFEST):
        r = self.put_manifest(repo, ref, body, media_type)
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("docker-content-digest"), sha(body), r.headers)
        return sha(body)

    def image(self, repo, marker, tag=None, docker=False, annotations=None):
        """Pushes a config and a layer and builds an image manifest over them (pushed when tag is
        given). Returns a dict: manifest (bytes), digest, config, layer (digests), layer_data."""
        layer = ("layer of %s " % marker).encode() + os.urandom(300)
        cfg = canon({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
                     "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}})
        cd = self.push_blob(repo, cfg)
        ld = self.push_blob(repo, layer)
        m = {"schemaVersion": 2,
             "mediaType": MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST,
             "config": {"mediaType": MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG, "digest": cd,
                        "size": len(cfg)},
             "layers": [{"mediaType": MT_DOCKER_LAYER if docker else MT_OCI_LAYER, "digest": ld,
                         "size": len(layer)}]}
        if annotations:
            m["annotations"] = annotations
        body = canon(m)
        if tag:
            self.push_manifest(repo, tag, body, m["mediaType"])
        return {"manifest": body, "digest": sha(body), "config": cd, "layer": ld, "layer_data": layer,
                "config_data": cfg}

    def artifact(self, repo, subject, artifact_type=None, config_type=MT_OCI_EMPTY, annotations=None):
        """An OCI artifact manifest referring to `subject` (a descriptor dict), pushed by digest.
        Returns (body, digest, put response)."""
        self.push_blob(repo, b"{}")
        layer = os.urandom(64)
        ld = self.push_blob(repo, layer)
        m = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
             "config": {"mediaType": config_type, "digest": EMPTY_JSON_DIGEST, "size": 2},
             "layers": [{"mediaType": "application/vnd.example.data", "digest": ld, "size": len(layer)}],
             "subject": subject}
        if artifact_type:
            m["artifactType"] = artifact_type
        if annotations:
            m["annotations"] = annotations
        body = canon(m)
        r = self.put_manifest(repo, sha(body), body)
        return body, sha(body), r


def descriptor(img_or_body, media_type=MT_OCI_MANIFEST):
    body = img_or_body["manifest"] if isinstance(img_or_body, dict) else img_or_body
    return {"mediaType": media_type, "digest": sha(body), "size": len(body)}


# ============================================================================================== Pull

class Pull(Base):
    REPO = "conf/pull"

    @classmethod
    def setUpClass(cls):
        create_repo(cls.REPO)
        create_repo("conf/pull-other")
        cls.img = Base("run").image(cls.REPO, "pull", tag="v1")

    def test_base_endpoint(self):
        r = v2("GET", "/v2/")
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.headers.get("docker-distribution-api-version"), "registry/2.0")

    def test_get_manifest_by_tag(self):
        r = v2("GET", "/v2/%s/manifests/v1" % self.REPO, headers={"Accept": MT_OCI_MANIFEST})
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.body, self.img["manifest"])  # byte for byte as pushed
        self.assertEqual(r.headers["content-type"], MT_OCI_MANIFEST)
        self.assertEqual(r.headers["docker-content-digest"], self.img["digest"])
        self.assertEqual(int(r.headers["content-length"]), len(self.img["manifest"]))
        self.assertEqual(sha(r.body), r.headers["docker-content-digest"])

    def test_get_manifest_by_digest(self):
        r = v2("GET", "/v2/%s/manifests/%s" % (self.REPO, self.img["digest"]))
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.body, self.img["manifest"])
        self.assertEqual(r.headers["content-type"], MT_OCI_MANIFEST)
        self.assertEqual(r.headers["docker-content-digest"], self.img["digest"])

    def test_head_manifest_by_tag_and_digest(self):
        for ref in ("v1", self.img["digest"]):
            status, h, body = raw_request("HEAD", "/v2/%s/manifests/%s" % (self.REPO, ref))
            self.assertEqual(status, 200, (ref, h))
            self.assertEqual(body, b"", "a HEAD answer has no body")
            self.assertEqual(h.get("docker-content-digest"), self.img["digest"])
            self.assertEqual(int(h.get("content-length", -1)), len(self.img["manifest"]))
            self.assertEqual(h.get("content-type"), MT_OCI_MANIFEST)

    def test_get_blob(self):
        for digest, data in ((self.img["layer"], self.img["layer_data"]), (self.img["config"], self.img["config_data"])):
            r = v2("GET", "/v2/%s/blobs/%s" % (self.REPO, digest))
            self.assertEqual(r.status, 200, r.as_dict())
            self.assertEqual(r.body, data)
            self.assertEqual(r.headers["docker-content-digest"], digest)
            self.assertEqual(int(r.headers["content-length"]), len(data))
            self.assertEqual(r.headers["content-type"], "application/octet-stream")

    def test_head_blob(self):
        status, h, body = raw_request("HEAD", "/v2/%s/blobs/%s" % (self.REPO, self.img["layer"]))
        self.assertEqual(status, 200, h)
        self.assertEqual(body, b"", "a HEAD answer has no body")
        self.assertEqual(h.get("docker-content-digest"), self.img["layer"])
        self.assertEqual(int(h.get("content-length", -1)), len(self.img["layer_data"]))

    def test_get_blob_range(self):
        data = self.img["layer_data"]
        n = len(data)
        path = "/v2/%s/blobs/%s" % (self.REPO, self.img["layer"])
        for rng, lo, hi in (("bytes=10-19", 10, 19), ("bytes=%d-" % (n - 7), n - 7, n - 1),
                            ("bytes=-5", n - 5, n - 1), ("bytes=0-%d" % (n + 100), 0, n - 1)):
            r = v2("GET", path, headers={"Range": rng})
            self.assertEqual(r.status, 206, (rng, r.as_dict()))
            self.assertEqual(r.body, data[lo:hi + 1], rng)
            self.assertEqual(r.headers.get("content-range"), "bytes %d-%d/%d" % (lo, hi, n), rng)
            self.assertEqual(int(r.headers["content-length"]), hi - lo + 1, rng)
            self.assertEqual(r.headers.get("docker-content-digest"), self.img["layer"])
        r = v2("GET", path, headers={"Range": "bytes=%d-" % n})
        self.assertEqual(r.status, 416, r.as_dict())
        self.assertEqual(r.headers.get("content-range"), "bytes */%d" % n)
        self.assertEqual(v2("GET", path).headers.get("accept-ranges"), "bytes")

    def test_missing_manifest(self):
        r = v2("GET", "/v2/%s/manifests/nonexistent" % self.REPO)
        self.assertError(r, 404, "MANIFEST_UNKNOWN")
        r = v2("GET", "/v2/%s/manifests/%s" % (self.REPO, sha(b"no such manifest")))
        self.assertError(r, 404, "MANIFEST_UNKNOWN")
        status, _, body = raw_request("HEAD", "/v2/%s/manifests/nonexistent" % self.REPO)
        self.assertEqual((status, body), (404, b""))

    def test_missing_blob(self):
        r = v2("GET", "/v2/%s/blobs/%s" % (self.REPO, sha(b"no such blob")))
        self.assertError(r, 404, "BLOB_UNKNOWN")
        status, _, body = raw_request("HEAD", "/v2/%s/blobs/%s" % (self.REPO, sha(b"no such blob")))
        self.assertEqual((status, body), (404, b""))

    def test_blob_of_another_repository_is_not_served(self):
        # Access to a blob is gated by the repository name: conf/pull-other never linked it.
        r = v2("GET", "/v2/conf/pull-other/blobs/%s" % self.img["layer"])
        self.assertError(r, 404, "BLOB_UNKNOWN")
        r = v2("GET", "/v2/conf/pull-other/manifests/%s" % self.img["digest"])
        self.assertError(r, 404, "MANIFEST_UNKNOWN")

    def test_missing_repository(self):
        for path in ("/v2/conf/nope/manifests/v1", "/v2/conf/nope/manifests/" + self.img["digest"],
                     "/v2/conf/nope/blobs/" + self.img["layer"], "/v2/conf/nope/tags/list"):
            self.assertError(v2("GET", path), 404, "NAME_UNKNOWN")

    def test_invalid_digest(self):
        for bad in ("sha256:abc", "sha256:" + "Z" * 64, "sha256:" + "A" * 64, "md5:" + "0" * 32):
            r = v2("GET", "/v2/%s/blobs/%s" % (self.REPO, bad))
            self.assertError(r, 400, "DIGEST_INVALID")
            r = v2("GET", "/v2/%s/manifests/%s" % (self.REPO, bad))
            self.assertError(r, 400, "DIGEST_INVALID")

    def test_invalid_tag_error_code_is_a_spec_code(self):
        # A reference that is neither a digest nor a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}) names
        # no manifest: a pull gets 404 MANIFEST_UNKNOWN, a push 400 MANIFEST_INVALID (Docker's
        # TAG_INVALID is not in the spec's table of codes).
        r = v2("GET", "/v2/%s/manifests/-not-a-tag" % self.REPO)
        self.assertError(r, 404, "MANIFEST_UNKNOWN")
        r = self.put_manifest(self.REPO, "-not-a-tag", self.img["manifest"])
        self.assertError(r, 400, "MANIFEST_INVALID")

    def test_invalid_repository_name(self):
        for name in ("Conf/Upper", "conf//double", "conf/-dash", "conf/trailing-"):
            self.assertError(v2("GET", "/v2/%s/manifests/v1" % name), 400, "NAME_INVALID")


# ============================================================================================== Push

class Push(Base):
    REPO = "conf/push"
    SRC = "conf/push-src"

    @classmethod
    def setUpClass(cls):
        create_repo(cls.REPO)
        create_repo(cls.SRC)

    def blob_status(self, repo, digest):
        return v2("HEAD", "/v2/%s/blobs/%s" % (repo, digest)).status

    def assertBlob(self, repo, digest, data):
        r = v2("GET", "/v2/%s/blobs/%s" % (repo, digest))
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.body, data)

    def start(self, repo=None):
        r = v2("POST", "/v2/%s/blobs/uploads/" % (repo or self.REPO), headers={"Content-Length": "0"})
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertTrue(r.headers.get("location"), r.headers)
        return r

    def test_post_then_put(self):
        data = os.urandom(2000)
        d = sha(data)
        self.assertEqual(self.blob_status(self.REPO, d), 404)
        r = self.start()
        loc = r.headers["location"]
        uuid = r.headers.get("docker-upload-uuid")
        self.assertTrue(uuid, r.headers)
        self.assertIn(uuid, loc)
        self.assertEqual(r.headers.get("content-length", "0"), "0")
        r = v2("PUT", with_query(loc, digest=d), data, {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertEqual(r.headers.get("docker-content-digest"), d)
        self.assertBlob(self.REPO, d, data)
        # the Location of the 201 is a pullable blob URL
        self.assertEqual(v2("GET", r.headers["location"]).body, data)
        # the session is over
        self.assertError(v2("GET", loc), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_single_post_with_digest(self):
        data = os.urandom(1500)
        d = sha(data)
        r = v2("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.REPO, d), data,
               {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertEqual(r.headers.get("docker-content-digest"), d)
        self.assertBlob(self.REPO, d, data)

    def test_chunked_upload(self):
        data = os.urandom(3 * 1024 + 17)
        d = sha(data)
        r = self.start()
        loc = r.headers["location"]
        uuid = r.headers.get("docker-upload-uuid")
        c1, c2, c3 = data[:1024], data[1024:2500], data[2500:]
        r = v2("PATCH", loc, c1, {"Content-Type": "application/octet-stream", "Content-Range": "0-1023"})
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertEqual(r.headers.get("range"), "0-1023")
        self.assertEqual(r.headers.get("location"), loc)
        self.assertEqual(r.headers.get("content-length", "0"), "0")
        r = v2("GET", loc)
        self.assertEqual(r.status, 204, r.as_dict())
        self.assertEqual(r.headers.get("range"), "0-1023")
        self.assertEqual(r.headers.get("docker-upload-uuid"), uuid)
        self.assertTrue(r.headers.get("location"))
        self.assertEqual(r.body, b"")
        r = v2("PATCH", loc, c2, {"Content-Type": "application/octet-stream", "Content-Range": "1024-2499"})
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertEqual(r.headers.get("range"), "0-2499")
        self.assertEqual(v2("GET", loc).headers.get("range"), "0-2499")
        # the final chunk comes with the closing PUT
        r = v2("PUT", with_query(r.headers.get("location") or loc, digest=d), c3,
               {"Content-Type": "application/octet-stream", "Content-Range": "2500-%d" % (len(data) - 1)})
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertEqual(r.headers.get("docker-content-digest"), d)
        self.assertBlob(self.REPO, d, data)

    def test_chunked_upload_closed_by_empty_put(self):
        data = os.urandom(2048)
        d = sha(data)
        loc = self.start().headers["location"]
        for lo in (0, 1024):
            r = v2("PATCH", loc, data[lo:lo + 1024], {"Content-Type": "application/octet-stream",
                                                     "Content-Range": "%d-%d" % (lo, lo + 1023)})
            self.assertEqual(r.status, 202, r.as_dict())
            self.assertEqual(r.headers.get("range"), "0-%d" % (lo + 1023))
        r = v2("PUT", with_query(loc, digest=d), b"")
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertBlob(self.REPO, d, data)

    def test_streamed_patch(self):
        # A PATCH without Content-Range: the body is appended.
        data = os.urandom(5000)
        d = sha(data)
        loc = self.start().headers["location"]
        r = v2("PATCH", loc, data, {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertEqual(r.headers.get("range"), "0-4999")
        r = v2("PUT", with_query(r.headers.get("location") or loc, digest=d))
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertBlob(self.REPO, d, data)

    def test_out_of_order_chunk(self):
        data = os.urandom(300)
        d = sha(data)
        loc = self.start().headers["location"]
        # a first chunk that does not start at 0
        r = v2("PATCH", loc, data[100:200], {"Content-Type": "application/octet-stream", "Content-Range": "100-199"})
        self.assertEqual(r.status, 416, r.as_dict())
        self.assertTrue(r.headers.get("location"), r.headers)
        self.assertEqual(r.headers.get("range"), "0-0")
        r = v2("PATCH", loc, data[:100], {"Content-Type": "application/octet-stream", "Content-Range": "0-99"})
        self.assertEqual(r.status, 202, r.as_dict())
        # a chunk that leaves a gap, one that overlaps, and a Content-Range that is not one
        for rng, body in (("150-299", data[150:]), ("50-149", data[50:150]), ("abc", data[100:])):
            r = v2("PATCH", loc, body, {"Content-Type": "application/octet-stream", "Content-Range": rng})
            self.assertEqual(r.status, 416, (rng, r.as_dict()))
            self.assertEqual(r.headers.get("range"), "0-99", rng)
        # the session is still usable: resume from the Range the registry reports
        r = v2("GET", loc)
        self.assertEqual((r.status, r.headers.get("range")), (204, "0-99"))
        r = v2("PATCH", loc, data[100:], {"Content-Type": "application/octet-stream", "Content-Range": "100-299"})
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertEqual(v2("PUT", with_query(loc, digest=d)).status, 201)
        self.assertBlob(self.REPO, d, data)

    def test_put_with_wrong_digest(self):
        data = os.urandom(1000)
        wrong = sha(b"something else")
        loc = self.start().headers["location"]
        r = v2("PUT", with_query(loc, digest=wrong), data, {"Content-Type": "application/octet-stream"})
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertEqual(self.blob_status(self.REPO, wrong), 404)
        self.assertEqual(self.blob_status(self.REPO, sha(data)), 404)

    def test_single_post_with_wrong_digest(self):
        data = os.urandom(1000)
        wrong = sha(b"yet another thing")
        r = v2("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.REPO, wrong), data,
               {"Content-Type": "application/octet-stream"})
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertEqual(self.blob_status(self.REPO, wrong), 404)
        self.assertEqual(self.blob_status(self.REPO, sha(data)), 404)

    def test_put_without_digest_is_refused(self):
        loc = self.start().headers["location"]
        r = v2("PUT", loc, b"abc", {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 400, r.as_dict())
        self.assertEqual(self.blob_status(self.REPO, sha(b"abc")), 404)
        r = v2("PUT", with_query(loc, digest="sha256:nothex"), b"abc")
        self.assertError(r, 400, "DIGEST_INVALID")

    def test_cancel_upload(self):
        loc = self.start().headers["location"]
        self.assertEqual(v2("PATCH", loc, b"x" * 10).status, 202)
        r = v2("DELETE", loc)
        self.assertEqual(r.status, 204, r.as_dict())
        self.assertError(v2("GET", loc), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(v2("PATCH", loc, b"y"), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(v2("PUT", with_query(loc, digest=sha(b"x" * 10))), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(v2("DELETE", loc), 404, "BLOB_UPLOAD_UNKNOWN")

    def test_unknown_upload_session(self):
        self.assertError(v2("GET", "/v2/%s/blobs/uploads/no-such-session" % self.REPO), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertError(v2("PATCH", "/v2/%s/blobs/uploads/no-such-session" % self.REPO, b"x"), 404,
                         "BLOB_UPLOAD_UNKNOWN")

    def test_upload_session_belongs_to_its_repository(self):
        r = self.start()
        uuid = r.headers["docker-upload-uuid"]
        self.assertError(v2("GET", "/v2/%s/blobs/uploads/%s" % (self.SRC, uuid)), 404, "BLOB_UPLOAD_UNKNOWN")
        self.assertEqual(v2("DELETE", r.headers["location"]).status, 204)

    def test_mount_from_another_repository(self):
        data = os.urandom(700)
        d = self.push_blob(self.SRC, data)
        self.assertEqual(self.blob_status(self.REPO, d), 404)
        r = v2("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (self.REPO, d, self.SRC),
               headers={"Content-Length": "0"})
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertEqual(r.headers.get("docker-content-digest"), d)
        self.assertBlob(self.REPO, d, data)

    def test_mount_without_from(self):
        # The registry MAY treat `from` as optional and mount the blob if it can find it; gantry
        # looks through the account's repositories.
        data = os.urandom(700)
        d = self.push_blob(self.SRC, data)
        r = v2("POST", "/v2/%s/blobs/uploads/?mount=%s" % (self.REPO, d), headers={"Content-Length": "0"})
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertBlob(self.REPO, d, data)

    def test_mount_of_a_missing_blob_falls_back_to_an_upload(self):
        data = os.urandom(600)
        d = sha(data)
        for query in ("mount=%s&from=%s" % (d, self.SRC), "mount=%s&from=conf/nope" % d, "mount=%s" % d):
            r = v2("POST", "/v2/%s/blobs/uploads/?%s" % (self.REPO, query), headers={"Content-Length": "0"})
            self.assertEqual(r.status, 202, (query, r.as_dict()))
            loc = r.headers.get("location", "")
            self.assertIn("/blobs/uploads/", loc, query)
            self.assertEqual(self.blob_status(self.REPO, d), 404)
        # the session it started takes the upload
        r = v2("PUT", with_query(loc, digest=d), data, {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertBlob(self.REPO, d, data)

    def test_empty_blob(self):
        self.assertEqual(sha(b""), EMPTY_DIGEST)
        r = v2("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.REPO, EMPTY_DIGEST), b"",
               {"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.as_dict())
        status, h, body = raw_request("HEAD", "/v2/%s/blobs/%s" % (self.REPO, EMPTY_DIGEST))
        self.assertEqual((status, h.get("content-length"), body), (200, "0", b""))
        r = v2("GET", "/v2/%s/blobs/%s" % (self.REPO, EMPTY_DIGEST))
        self.assertEqual((r.status, r.body, r.headers.get("docker-content-digest")), (200, b"", EMPTY_DIGEST))
        # and through POST + PUT into another repository
        self.assertEqual(self.push_blob(self.SRC, b""), EMPTY_DIGEST)
        self.assertBlob(self.SRC, EMPTY_DIGEST, b"")

    def test_empty_json_blob(self):
        self.assertEqual(self.push_blob(self.REPO, b"{}"), EMPTY_JSON_DIGEST)
        self.assertBlob(self.REPO, EMPTY_JSON_DIGEST, b"{}")

    def test_manifest_put_by_tag(self):
        img = self.image(self.REPO, "by-tag")
        r = self.put_manifest(self.REPO, "by-tag", img["manifest"])
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/manifests/%s" % (self.REPO, img["digest"]))
        self.assertEqual(r.headers.get("docker-content-digest"), img["digest"])
        self.assertNotIn("oci-subject", r.headers)
        g = v2("GET", "/v2/%s/manifests/by-tag" % self.REPO)
        self.assertEqual((g.status, g.body), (200, img["manifest"]))
        self.assertEqual(v2("GET", r.headers["location"]).body, img["manifest"])
        # the same bytes again: still 201, same digest
        r = self.put_manifest(self.REPO, "by-tag", img["manifest"])
        self.assertEqual((r.status, r.headers.get("docker-content-digest")), (201, img["digest"]))

    def test_manifest_put_by_digest(self):
        img = self.image(self.REPO, "by-digest")
        r = self.put_manifest(self.REPO, img["digest"], img["manifest"])
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("location"), "/v2/%s/manifests/%s" % (self.REPO, img["digest"]))
        self.assertEqual(r.headers.get("docker-content-digest"), img["digest"])
        g = v2("GET", "/v2/%s/manifests/%s" % (self.REPO, img["digest"]))
        self.assertEqual((g.status, g.body), (200, img["manifest"]))

    def test_manifest_put_by_wrong_digest(self):
        img = self.image(self.REPO, "wrong-digest")
        wrong = sha(img["manifest"] + b"  ")
        r = self.put_manifest(self.REPO, wrong, img["manifest"])
        self.assertError(r, 400, "DIGEST_INVALID")
        self.assertError(v2("GET", "/v2/%s/manifests/%s" % (self.REPO, wrong)), 404, "MANIFEST_UNKNOWN")
        self.assertError(v2("GET", "/v2/%s/manifests/%s" % (self.REPO, img["digest"])), 404, "MANIFEST_UNKNOWN")

    def test_manifest_put_by_wrong_digest_leaves_existing_manifest(self):
        # A PUT of a manifest that is already stored, under a digest that is not its own, is refused
        # (the spec: "The Docker-Content-Digest header ... MUST be equal to the client provided
        # digest") and changes nothing: the stored manifest and its tags stay.
        img = self.image(self.REPO, "keep-me", tag="keep-me")
        wrong = sha(img["manifest"] + b"\n")
        self.assertError(self.put_manifest(self.REPO, wrong, img["manifest"]), 400, "DIGEST_INVALID")
        self.assertEqual(v2("GET", "/v2/%s/manifests/%s" % (self.REPO, img["digest"])).status, 200)
        self.assertEqual(v2("GET", "/v2/%s/manifests/keep-me" % self.REPO).status, 200)

    def test_manifest_referring_to_missing_blobs(self):
        img = self.image(self.REPO, "missing-blob")
        m = json.loads(img["manifest"])
        m["layers"].append({"mediaType": MT_OCI_LAYER, "digest": sha(b"never pushed"), "size": 12})
        r = self.put_manifest(self.REPO, "missing-layer", canon(m))
        self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        m = json.loads(img["manifest"])
        m["config"]["digest"] = sha(b"never pushed config")
        r = self.put_manifest(self.REPO, "missing-config", canon(m))
        self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")
        for tag in ("missing-layer", "missing-config"):
            self.assertError(v2("GET", "/v2/%s/manifests/%s" % (self.REPO, tag)), 404, "MANIFEST_UNKNOWN")

    def test_invalid_manifests(self):
        img = self.image(self.REPO, "invalid")
        good = json.loads(img["manifest"])
        no_config = dict(good)
        del no_config["config"]
        bad_digest = json.loads(img["manifest"])
        bad_digest["layers"][0]["digest"] = "sha256:xyz"
        for what, body, ct in (("not JSON", b"{this is not json", MT_OCI_MANIFEST),
                               ("empty", b"", MT_OCI_MANIFEST),
                               ("a JSON array", b"[]", MT_OCI_MANIFEST),
                               ("no schemaVersion", canon({k: v for k, v in good.items() if k != "schemaVersion"}),
                                MT_OCI_MANIFEST),
                               ("no config", canon(no_config), MT_OCI_MANIFEST),
                               ("a malformed layer digest", canon(bad_digest), MT_OCI_MANIFEST),
                               ("mediaType differs from Content-Type", img["manifest"], MT_DOCKER_MANIFEST)):
            r = self.put_manifest(self.REPO, "invalid", body, ct)
            try:
                self.assertError(r, 400, "MANIFEST_INVALID")
            except AssertionError as e:
                raise AssertionError("a manifest with %s: %s" % (what, e)) from None
        self.assertError(v2("GET", "/v2/%s/manifests/invalid" % self.REPO), 404, "MANIFEST_UNKNOWN")

    def test_manifest_too_large(self):
        # The spec: "A registry that enforces this limit SHOULD respond to a request to push a
        # manifest over this limit with a response code 413 Payload Too Large"; gantry's limit is
        # the 4 MiB that registries SHOULD at least take.
        body = b'{"schemaVersion":2,"annotations":{"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}}'
        r = e2elib.send_raw(SERVER.endpoint, "PUT", "/v2/%s/manifests/huge" % self.REPO,
                            {"Authorization": basic(PW["A"]), "Content-Type": MT_OCI_MANIFEST}, body)
        self.assertEqual(r["status"], 413, r)

    def test_manifest_with_subject(self):
        subj = self.image(self.REPO, "subject", tag="subject")
        body, d, r = self.artifact(self.REPO, descriptor(subj), AT_SBOM)
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("oci-subject"), subj["digest"])
        self.assertEqual(r.headers.get("docker-content-digest"), d)
        self.assertEqual(r.headers.get("location"), "/v2/%s/manifests/%s" % (self.REPO, d))
        self.assertEqual(v2("GET", "/v2/%s/manifests/%s" % (self.REPO, d)).body, body)

    def test_index_with_subject(self):
        subj = self.image(self.REPO, "index-subject", tag="index-subject")
        member = self.image(self.REPO, "index-member", tag="index-member")
        body = canon({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "artifactType": AT_SBOM,
                      "manifests": [descriptor(member)], "subject": descriptor(subj)})
        r = self.put_manifest(self.REPO, sha(body), body, MT_OCI_INDEX)
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("oci-subject"), subj["digest"])
        r = v2("GET", "/v2/%s/referrers/%s" % (self.REPO, subj["digest"]))
        self.assertEqual(r.json["manifests"], [{"mediaType": MT_OCI_INDEX, "digest": sha(body),
                                                "size": len(body), "artifactType": AT_SBOM}])

    def test_content_type_parameters_are_ignored(self):
        # "The registry SHOULD ignore parameters on the Content-Type header"; what it serves back
        # carries none ("Registries should not include parameters").
        img = self.image(self.REPO, "ct-params")
        r = self.put_manifest(self.REPO, "ct-params", img["manifest"], MT_OCI_MANIFEST + "; charset=utf-8")
        self.assertEqual(r.status, 201, r.as_dict())
        g = v2("GET", "/v2/%s/manifests/ct-params" % self.REPO)
        self.assertEqual((g.status, g.headers.get("content-type"), g.body), (200, MT_OCI_MANIFEST, img["manifest"]))

    def test_manifest_with_missing_subject_is_accepted(self):
        # "A registry MUST accept a manifest that includes a subject field referencing another
        # manifest that does not yet exist in the repository."
        ghost = {"mediaType": MT_OCI_MANIFEST, "digest": sha(b"not pushed yet"), "size": 123}
        _, _, r = self.artifact(self.REPO, ghost, AT_SBOM)
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("oci-subject"), ghost["digest"])

    def test_oci_image_index(self):
        a = self.image(self.REPO, "amd64", tag="idx-amd64")
        b = self.image(self.REPO, "arm64", tag="idx-arm64")
        idx = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
               "manifests": [dict(descriptor(a), platform={"architecture": "amd64", "os": "linux"}),
                             dict(descriptor(b), platform={"architecture": "arm64", "os": "linux"})]}
        body = canon(idx)
        r = self.put_manifest(self.REPO, "multi", body, MT_OCI_INDEX)
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("docker-content-digest"), sha(body))
        self.assertEqual(r.headers.get("location"), "/v2/%s/manifests/%s" % (self.REPO, sha(body)))
        for ref in ("multi", sha(body)):
            g = v2("GET", "/v2/%s/manifests/%s" % (self.REPO, ref), headers={"Accept": MT_OCI_INDEX})
            self.assertEqual((g.status, g.body), (200, body))
            self.assertEqual(g.headers["content-type"], MT_OCI_INDEX)
            self.assertEqual(g.headers["docker-content-digest"], sha(body))
        # an index naming a manifest the repository does not have
        idx["manifests"].append({"mediaType": MT_OCI_MANIFEST, "digest": sha(b"absent manifest"), "size": 10})
        r = self.put_manifest(self.REPO, "multi-broken", canon(idx), MT_OCI_INDEX)
        self.assertError(r, 400, "MANIFEST_BLOB_UNKNOWN")

    def test_docker_schema2_manifest_and_list(self):
        img = self.image(self.REPO, "docker", docker=True)
        r = self.put_manifest(self.REPO, "docker-v2", img["manifest"], MT_DOCKER_MANIFEST)
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(r.headers.get("docker-content-digest"), img["digest"])
        g = v2("GET", "/v2/%s/manifests/docker-v2" % self.REPO, headers={"Accept": MT_DOCKER_MANIFEST})
        self.assertEqual((g.status, g.body), (200, img["manifest"]))
        self.assertEqual(g.headers["content-type"], MT_DOCKER_MANIFEST)
        lst = canon({"schemaVersion": 2, "mediaType": MT_DOCKER_LIST,
                     "manifests": [dict(descriptor(img, MT_DOCKER_MANIFEST),
                                        platform={"architecture": "amd64", "os": "linux"})]})
        r = self.put_manifest(self.REPO, "docker-list", lst, MT_DOCKER_LIST)
        self.assertEqual(r.status, 201, r.as_dict())
        g = v2("GET", "/v2/%s/manifests/docker-list" % self.REPO, headers={"Accept": MT_DOCKER_LIST})
        self.assertEqual((g.status, g.body), (200, lst))
        self.assertEqual(g.headers["content-type"], MT_DOCKER_LIST)
        self.assertEqual(g.headers["docker-content-digest"], sha(lst))
        status, h, body = raw_request("HEAD", "/v2/%s/manifests/docker-list" % self.REPO)
        self.assertEqual((status, h.get("content-type"), body), (200, MT_DOCKER_LIST, b""))

    def test_push_to_missing_repository(self):
        self.assertError(v2("POST", "/v2/conf/nope/blobs/uploads/"), 404, "NAME_UNKNOWN")
        self.assertError(self.put_manifest("conf/nope", "v1", b'{"schemaVersion":2}'), 404, "NAME_UNKNOWN")

    def test_tag_reassigned_to_a_new_manifest(self):
        a = self.image(self.REPO, "first", tag="moving")
        b = self.image(self.REPO, "second", tag="moving")
        g = v2("GET", "/v2/%s/manifests/moving" % self.REPO)
        self.assertEqual((g.status, g.headers["docker-content-digest"]), (200, b["digest"]))
        self.assertEqual(v2("GET", "/v2/%s/manifests/%s" % (self.REPO, a["digest"])).status, 200)


# ================================================================================= Content discovery

class ContentDiscovery(Base):
    REPO = "conf/disc"
    TAGS = ["zeta", "alpha", "Beta", "v1.1", "v1.0", "_under", "9lives"]

    @classmethod
    def setUpClass(cls):
        for name in (cls.REPO, "conf/disc-empty", "cat/a", "cat/b", "cat/c"):
            create_repo(name)
        create_repo("b/only", account="B")
        t = Base("run")
        cls.img = t.image(cls.REPO, "disc")
        for tag in cls.TAGS:
            t.push_manifest(cls.REPO, tag, cls.img["manifest"])
        # the subject and its referrers
        cls.subj = t.image(cls.REPO, "subject", tag="subject")
        sd = descriptor(cls.subj)
        cls.sbom, cls.sbom_d, _ = t.artifact(cls.REPO, sd, AT_SBOM, annotations={"org.example.kind": "sbom"})
        # no artifactType: the config's media type stands for it
        cls.sig, cls.sig_d, _ = t.artifact(cls.REPO, sd, None, config_type=AT_SIG_CONFIG,
                                           annotations={"org.example.kind": "signature"})
        # an index with a subject and no artifactType: the descriptor has none
        idx = canon({"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
                     "manifests": [descriptor(cls.img)], "subject": sd,
                     "annotations": {"org.example.kind": "index"}})
        t.push_manifest(cls.REPO, sha(idx), idx, MT_OCI_INDEX)
        cls.idx, cls.idx_d = idx, sha(idx)
        # a referrer of something else
        t.artifact(cls.REPO, descriptor(cls.img), AT_SBOM)
        # a referrer of a subject that was never pushed
        cls.ghost = sha(b"never pushed subject")
        cls.orphan, cls.orphan_d, _ = t.artifact(
            cls.REPO, {"mediaType": MT_OCI_MANIFEST, "digest": cls.ghost, "size": 99}, AT_SBOM)

    def all_tags(self):
        return sorted(self.TAGS + ["subject"])

    def test_tags_list(self):
        r = v2("GET", "/v2/%s/tags/list" % self.REPO)
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        self.assertEqual(r.json, {"name": self.REPO, "tags": self.all_tags()})
        self.assertNotIn("link", r.headers)
        # ASCIIbetical: digits, upper case, '_', lower case
        self.assertEqual(self.all_tags()[:4], ["9lives", "Beta", "_under", "alpha"])

    def test_tags_list_of_an_empty_repository(self):
        r = v2("GET", "/v2/conf/disc-empty/tags/list")
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.json["name"], "conf/disc-empty")
        self.assertIn(r.json.get("tags"), ([], None))

    def test_tags_list_n(self):
        tags = self.all_tags()
        r = v2("GET", "/v2/%s/tags/list?n=3" % self.REPO)
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.json["tags"], tags[:3])
        self.assertEqual(r.headers.get("link"),
                         '</v2/%s/tags/list?n=3&last=%s>; rel="next"' % (self.REPO, tags[2]))

    def test_tags_list_follow_link(self):
        seen, path, pages = [], "/v2/%s/tags/list?n=2" % self.REPO, 0
        while path:
            r = v2("GET", path)
            self.assertEqual(r.status, 200, r.as_dict())
            self.assertLessEqual(len(r.json["tags"]), 2)
            seen += r.json["tags"]
            pages += 1
            self.assertLess(pages, 10, "the Link chain does not end")
            link = r.headers.get("link")
            if link:
                self.assertTrue(link.endswith('>; rel="next"'), link)
                path = link[1:link.index(">")]
            else:
                path = None
        self.assertEqual(seen, self.all_tags())

    def test_tags_list_last(self):
        tags = self.all_tags()
        r = v2("GET", "/v2/%s/tags/list?n=2&last=alpha" % self.REPO)
        self.assertEqual(r.status, 200, r.as_dict())
        i = tags.index("alpha")
        self.assertEqual(r.json["tags"], tags[i + 1:i + 3])
        self.assertNotIn("alpha", r.json["tags"])
        # last without n: everything after it
        r = v2("GET", "/v2/%s/tags/list?last=v1.0" % self.REPO)
        self.assertEqual(r.json["tags"], [t for t in tags if t > "v1.0"])
        self.assertNotIn("link", r.headers)
        # n as large as the rest: no Link
        r = v2("GET", "/v2/%s/tags/list?n=%d" % (self.REPO, len(tags)))
        self.assertEqual(r.json["tags"], tags)
        self.assertNotIn("link", r.headers)

    def test_tags_list_n_zero(self):
        # The spec: "When n is zero, this endpoint MUST return an empty list, and MUST NOT include a
        # Link header."
        r = v2("GET", "/v2/%s/tags/list?n=0" % self.REPO)
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.json["tags"], [])
        self.assertNotIn("link", r.headers)

    def test_tags_list_bad_n(self):
        # A 400 whose code is in the spec's table ("The code field MUST be one of the following"),
        # not Distribution's PAGINATION_NUMBER_INVALID.
        r = v2("GET", "/v2/%s/tags/list?n=-1" % self.REPO)
        self.assertSpecCode(r, 400)

    def test_catalog(self):
        r = v2("GET", "/v2/_catalog")
        self.assertEqual(r.status, 200, r.as_dict())
        repos = r.json["repositories"]
        self.assertEqual(repos, sorted(repos))
        for name in ("cat/a", "cat/b", "cat/c", self.REPO):
            self.assertIn(name, repos)
        self.assertNotIn("b/only", repos)  # another account's
        r = v2("GET", "/v2/_catalog?n=1&last=cat/a")
        self.assertEqual(r.json["repositories"], ["cat/b"])
        link = r.headers.get("link", "")
        self.assertTrue(link.startswith("</v2/_catalog?n=1&last=") and link.endswith('>; rel="next"'), link)
        r = v2("GET", link[1:link.index(">")])
        self.assertEqual(r.json["repositories"], ["cat/c"])
        r = v2("GET", "/v2/_catalog", account="B")
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertIn("b/only", r.json["repositories"])
        self.assertFalse([n for n in r.json["repositories"] if n.startswith("cat/")], r.json)

    def referrers(self, digest, query=""):
        r = v2("GET", "/v2/%s/referrers/%s%s" % (self.REPO, digest, query))
        self.assertEqual(r.status, 200, r.as_dict())
        self.assertEqual(r.headers.get("content-type"), MT_OCI_INDEX)
        self.assertEqual(r.json.get("schemaVersion"), 2)
        self.assertEqual(r.json.get("mediaType"), MT_OCI_INDEX)
        self.assertIsInstance(r.json.get("manifests"), list)
        return r, {m["digest"]: m for m in r.json["manifests"]}

    def test_referrers(self):
        r, by = self.referrers(self.subj["digest"])
        self.assertNotIn("oci-filters-applied", r.headers)
        self.assertEqual(set(by), {self.sbom_d, self.sig_d, self.idx_d})
        self.assertEqual(len(r.json["manifests"]), 3)
        self.assertEqual(by[self.sbom_d], {"mediaType": MT_OCI_MANIFEST, "digest": self.sbom_d,
                                           "size": len(self.sbom), "artifactType": AT_SBOM,
                                           "annotations": {"org.example.kind": "sbom"}})
        # artifactType missing in the manifest: the config descriptor's mediaType
        self.assertEqual(by[self.sig_d], {"mediaType": MT_OCI_MANIFEST, "digest": self.sig_d,
                                          "size": len(self.sig), "artifactType": AT_SIG_CONFIG,
                                          "annotations": {"org.example.kind": "signature"}})
        # an index without artifactType: the descriptor has none
        self.assertEqual(by[self.idx_d], {"mediaType": MT_OCI_INDEX, "digest": self.idx_d,
                                          "size": len(self.idx), "annotations": {"org.example.kind": "index"}})

    def test_referrers_filtered_by_artifact_type(self):
        r, by = self.referrers(self.subj["digest"], "?artifactType=" + urllib.parse.quote(AT_SBOM, safe=""))
        self.assertEqual(r.headers.get("oci-filters-applied"), "artifactType")
        self.assertEqual(list(by), [self.sbom_d])
        r, by = self.referrers(self.subj["digest"], "?artifactType=" + urllib.parse.quote(AT_SIG_CONFIG, safe=""))
        self.assertEqual(r.headers.get("oci-filters-applied"), "artifactType")
        self.assertEqual(list(by), [self.sig_d])
        r, by = self.referrers(self.subj["digest"], "?artifactType=application%2Fvnd.example.none")
        self.assertEqual(r.headers.get("oci-filters-applied"), "artifactType")
        self.assertEqual(by, {})

    def test_referrers_of_a_digest_without_any(self):
        for d in (self.img["layer"], sha(b"nothing refers to this")):
            _, by = self.referrers(d)
            self.assertEqual(by, {})

    def test_referrers_of_a_missing_subject(self):
        _, by = self.referrers(self.ghost)
        self.assertEqual(list(by), [self.orphan_d])

    def test_referrers_errors(self):
        self.assertError(v2("GET", "/v2/%s/referrers/sha256:123" % self.REPO), 400, "DIGEST_INVALID")
        self.assertError(v2("GET", "/v2/conf/nope/referrers/%s" % self.subj["digest"]), 404, "NAME_UNKNOWN")


# ================================================================================ Content management

class ContentManagement(Base):
    REPO = "conf/mgmt"
    OTHER = "conf/mgmt-other"

    @classmethod
    def setUpClass(cls):
        create_repo(cls.REPO)
        create_repo(cls.OTHER)

    def get(self, ref, repo=None):
        return v2("GET", "/v2/%s/manifests/%s" % (repo or self.REPO, ref))

    def tags(self):
        return v2("GET", "/v2/%s/tags/list" % self.REPO).json["tags"]

    def test_delete_manifest_by_digest(self):
        img = self.image(self.REPO, "del-digest", tag="del-a")
        self.push_manifest(self.REPO, "del-b", img["manifest"])
        r = v2("DELETE", "/v2/%s/manifests/%s" % (self.REPO, img["digest"]))
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertError(self.get(img["digest"]), 404, "MANIFEST_UNKNOWN")
        # and any tag pointing at it
        self.assertError(self.get("del-a"), 404, "MANIFEST_UNKNOWN")
        self.assertError(self.get("del-b"), 404, "MANIFEST_UNKNOWN")
        self.assertNotIn("del-a", self.tags())
        self.assertNotIn("del-b", self.tags())
        status, _, _ = raw_request("HEAD", "/v2/%s/manifests/%s" % (self.REPO, img["digest"]))
        self.assertEqual(status, 404)
        # gone twice: 404
        self.assertError(v2("DELETE", "/v2/%s/manifests/%s" % (self.REPO, img["digest"])), 404, "MANIFEST_UNKNOWN")
        # the blobs stay, and the manifest can be pushed again
        self.assertEqual(v2("HEAD", "/v2/%s/blobs/%s" % (self.REPO, img["layer"])).status, 200)
        self.push_manifest(self.REPO, "del-a", img["manifest"])
        self.assertEqual(self.get("del-a").status, 200)

    def test_delete_tag(self):
        # gantry implements tag deletion: the tag goes, the manifest and its other tags stay.
        img = self.image(self.REPO, "del-tag", tag="keep")
        self.push_manifest(self.REPO, "drop", img["manifest"])
        r = v2("DELETE", "/v2/%s/manifests/drop" % self.REPO)
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertError(self.get("drop"), 404, "MANIFEST_UNKNOWN")
        self.assertEqual(self.get("keep").status, 200)
        self.assertEqual(self.get(img["digest"]).status, 200)
        self.assertIn("keep", self.tags())
        self.assertNotIn("drop", self.tags())
        self.assertError(v2("DELETE", "/v2/%s/manifests/drop" % self.REPO), 404, "MANIFEST_UNKNOWN")

    def test_delete_unknown_manifest(self):
        self.assertError(v2("DELETE", "/v2/%s/manifests/%s" % (self.REPO, sha(b"never"))), 404, "MANIFEST_UNKNOWN")
        self.assertError(v2("DELETE", "/v2/%s/manifests/never-was" % self.REPO), 404, "MANIFEST_UNKNOWN")
        self.assertError(v2("DELETE", "/v2/conf/nope/manifests/%s" % sha(b"never")), 404, "NAME_UNKNOWN")

    def test_delete_blob(self):
        data = os.urandom(800)
        d = self.push_blob(self.REPO, data)
        self.assertEqual(v2("GET", "/v2/%s/blobs/%s" % (self.REPO, d)).status, 200)
        r = v2("DELETE", "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertError(v2("GET", "/v2/%s/blobs/%s" % (self.REPO, d)), 404, "BLOB_UNKNOWN")
        status, _, body = raw_request("HEAD", "/v2/%s/blobs/%s" % (self.REPO, d))
        self.assertEqual((status, body), (404, b""))
        self.assertError(v2("DELETE", "/v2/%s/blobs/%s" % (self.REPO, d)), 404, "BLOB_UNKNOWN")
        # it can be pushed again
        self.assertEqual(self.push_blob(self.REPO, data), d)
        self.assertEqual(v2("GET", "/v2/%s/blobs/%s" % (self.REPO, d)).body, data)

    def test_delete_blob_in_one_repository_keeps_it_in_another(self):
        data = os.urandom(800)
        d = self.push_blob(self.OTHER, data)
        r = v2("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (self.REPO, d, self.OTHER))
        self.assertEqual(r.status, 201, r.as_dict())
        self.assertEqual(v2("DELETE", "/v2/%s/blobs/%s" % (self.REPO, d)).status, 202)
        self.assertEqual(v2("GET", "/v2/%s/blobs/%s" % (self.REPO, d)).status, 404)
        self.assertEqual(v2("GET", "/v2/%s/blobs/%s" % (self.OTHER, d)).body, data)

    def test_delete_unknown_blob(self):
        self.assertError(v2("DELETE", "/v2/%s/blobs/%s" % (self.REPO, sha(b"no blob"))), 404, "BLOB_UNKNOWN")
        self.assertError(v2("DELETE", "/v2/%s/blobs/sha256:12" % self.REPO), 400, "DIGEST_INVALID")

    def test_deleted_referrer_leaves_the_referrers_list(self):
        subj = self.image(self.REPO, "ref-subject", tag="ref-subject")
        _, a, r = self.artifact(self.REPO, descriptor(subj), AT_SBOM)
        self.assertEqual(r.status, 201)
        _, b, r = self.artifact(self.REPO, descriptor(subj), AT_SBOM)
        self.assertEqual(r.status, 201)
        r = v2("GET", "/v2/%s/referrers/%s" % (self.REPO, subj["digest"]))
        self.assertEqual(sorted(m["digest"] for m in r.json["manifests"]), sorted([a, b]))
        self.assertEqual(v2("DELETE", "/v2/%s/manifests/%s" % (self.REPO, a)).status, 202)
        r = v2("GET", "/v2/%s/referrers/%s" % (self.REPO, subj["digest"]))
        self.assertEqual([m["digest"] for m in r.json["manifests"]], [b])

    def test_unsupported_methods(self):
        img = self.image(self.REPO, "methods", tag="methods")
        for method, path in (("POST", "/v2/%s/manifests/methods" % self.REPO),
                             ("PUT", "/v2/%s/blobs/%s" % (self.REPO, img["layer"])),
                             ("DELETE", "/v2/%s/tags/list" % self.REPO)):
            self.assertError(v2(method, path, b""), 405, "UNSUPPORTED")


# ============================================================================================== Auth

class Auth(Base):
    REPO = "conf/auth"

    @classmethod
    def setUpClass(cls):
        create_repo(cls.REPO)
        cls.img = Base("run").image(cls.REPO, "auth", tag="v1")

    def requests(self):
        """One request of each group, on account A's repository."""
        d, layer = self.img["digest"], self.img["layer"]
        return [("GET", "/v2/", None),
                ("GET", "/v2/%s/manifests/v1" % self.REPO, None),
                ("HEAD", "/v2/%s/manifests/%s" % (self.REPO, d), None),
                ("GET", "/v2/%s/blobs/%s" % (self.REPO, layer), None),
                ("HEAD", "/v2/%s/blobs/%s" % (self.REPO, layer), None),
                ("POST", "/v2/%s/blobs/uploads/" % self.REPO, b""),
                ("POST", "/v2/%s/blobs/uploads/?digest=%s" % (self.REPO, sha(b"abc")), b"abc"),
                ("PUT", "/v2/%s/manifests/hijack" % self.REPO, self.img["manifest"]),
                ("GET", "/v2/%s/tags/list" % self.REPO, None),
                ("GET", "/v2/%s/referrers/%s" % (self.REPO, d), None),
                ("GET", "/v2/_catalog", None),
                ("DELETE", "/v2/%s/manifests/v1" % self.REPO, None),
                ("DELETE", "/v2/%s/blobs/%s" % (self.REPO, layer), None)]

    def assertUntouched(self):
        r = v2("GET", "/v2/%s/manifests/v1" % self.REPO)
        self.assertEqual((r.status, r.body), (200, self.img["manifest"]))
        self.assertEqual(v2("GET", "/v2/%s/blobs/%s" % (self.REPO, self.img["layer"])).status, 200)
        self.assertEqual(v2("GET", "/v2/%s/tags/list" % self.REPO).json["tags"], ["v1"])
        self.assertEqual(v2("HEAD", "/v2/%s/blobs/%s" % (self.REPO, sha(b"abc"))).status, 404)

    def test_no_credentials(self):
        realm = 'Bearer realm="http://127.0.0.1:%d/v2/token"' % SERVER.port
        for method, path, body in self.requests():
            r = v2(method, path, body, account=None)
            if method == "HEAD":
                self.assertEqual(r.status, 401, (method, path))
            else:
                self.assertError(r, 401, "UNAUTHORIZED")
            self.assertTrue(r.headers.get("www-authenticate", "").startswith(realm), (method, path, r.headers))
        self.assertUntouched()

    def test_wrong_password(self):
        pw = PW["A"]
        for auth in (basic(pw[:-1] + ("0" if pw[-1] != "0" else "1")), basic("not-a-gantry-password"),
                     "Bearer " + pw[:-2], "Basic !!!notbase64"):
            for method, path, body in self.requests()[:4]:
                r = v2(method, path, body, auth=auth)
                self.assertEqual(r.status, 401, (auth, method, path))
                self.assertTrue(r.headers.get("www-authenticate"), r.headers)

    def test_another_account_cannot_see_the_repository(self):
        # gantry scopes repositories by account: to account B, A's repository does not exist.
        for method, path, body in self.requests():
            if path in ("/v2/", "/v2/_catalog"):
                continue
            r = v2(method, path, body, account="B")
            if method == "HEAD":
                self.assertEqual(r.status, 404, (method, path))
            else:
                self.assertError(r, 404, "NAME_UNKNOWN")
        # nor does any mount from it reach A's blobs
        create_repo("conf/auth-b", account="B")
        r = v2("POST", "/v2/conf/auth-b/blobs/uploads/?mount=%s&from=%s" % (self.img["layer"], self.REPO),
               account="B")
        self.assertEqual(r.status, 202, r.as_dict())
        self.assertEqual(v2("HEAD", "/v2/conf/auth-b/blobs/%s" % self.img["layer"], account="B").status, 404)
        self.assertUntouched()

    def test_token_flow(self):
        r = v2("GET", "/v2/token?service=gantry&scope=repository:%s:pull" % self.REPO, account=None)
        self.assertEqual(r.status, 401, r.as_dict())
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Basic "), r.headers)
        r = v2("GET", "/v2/token?service=gantry&scope=repository:%s:pull" % self.REPO)
        self.assertEqual(r.status, 200, r.as_dict())
        token = r.json.get("token") or r.json.get("access_token")
        self.assertTrue(token, r.json)
        for path in ("/v2/", "/v2/%s/manifests/v1" % self.REPO):
            r = v2("GET", path, auth="Bearer " + token)
            self.assertEqual(r.status, 200, (path, r.as_dict()))
        self.assertEqual(v2("GET", "/v2/%s/manifests/v1" % self.REPO, auth="Bearer " + token).body,
                         self.img["manifest"])


def before(server):
    PW["A"] = registry_password("A")
    PW["B"] = registry_password("B")


def main():
    global SERVER
    SERVER = e2elib.Server()
    return e2elib.run_tap(sys.modules[__name__], SERVER, before=before)


if __name__ == "__main__":
    sys.exit(main())
