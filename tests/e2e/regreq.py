#!/usr/bin/env python3
"""Raw OCI distribution requests for the registry tests, where skopeo cannot show the detail.

Usage:
  regreq.py ENDPOINT PASSWORD badput REPO        an upload finished with a wrong digest: prints
                                                 the status and error code, then the blob's HEAD status
  regreq.py ENDPOINT PASSWORD resume REPO SIZE   a chunked upload whose PATCH connection breaks
                                                 halfway, resumed from the Range the registry reports;
                                                 prints "ok <digest>" when the blob reads back equal
  regreq.py ENDPOINT PASSWORD get PATH [RANGE]   prints status, then the body's length and sha256
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import sys
import urllib.parse


def main():
    endpoint, pw, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
    u = urllib.parse.urlsplit(endpoint)
    auth = "Basic " + base64.b64encode(("AWS:" + pw).encode()).decode()

    def req(method, path, body=None, headers=None):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        h = {"Authorization": auth}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    if cmd == "badput":
        repo = sys.argv[4]
        data = os.urandom(1000)
        r, _ = req("POST", "/v2/%s/blobs/uploads/" % repo)
        loc = r.getheader("Location")
        wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
        r, body = req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + wrong, body=data,
                      headers={"Content-Type": "application/octet-stream"})
        code = json.loads(body)["errors"][0]["code"] if body else ""
        r2, _ = req("HEAD", "/v2/%s/blobs/%s" % (repo, wrong))
        r3, _ = req("HEAD", "/v2/%s/blobs/sha256:%s" % (repo, hashlib.sha256(data).hexdigest()))
        print(r.status, code, r2.status, r3.status)
    elif cmd == "resume":
        repo, size = sys.argv[4], int(sys.argv[5])
        data = os.urandom(size)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r, _ = req("POST", "/v2/%s/blobs/uploads/" % repo)
        loc = r.getheader("Location")
        # A PATCH that announces all bytes but sends only part, then the connection drops.
        s = socket.create_connection((u.hostname, u.port))
        head = ("PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % (loc, u.netloc, auth, size))
        s.sendall(head.encode() + data[: size // 3])
        s.close()
        # Where does the upload stand? Once the registry has seen the connection go, the size stops
        # moving and the session takes a new request (until then it answers 409: retry).
        import time
        have, prev = -1, -2
        for _ in range(100):
            r, _ = req("GET", loc)
            if r.status != 204:
                print("status of the upload:", r.status)
                return
            have = int(r.getheader("Range").split("-")[1]) + 1
            if have == prev:
                break
            prev = have
            time.sleep(0.2)
        for _ in range(50):
            try:
                r, _ = req("PATCH", loc, body=data[have:], headers={"Content-Type": "application/octet-stream",
                                                                     "Content-Range": "%d-%d" % (have, size - 1)})
            except (BrokenPipeError, ConnectionResetError):
                time.sleep(0.2)
                continue
            if r.status != 409:
                break
            time.sleep(0.2)
        if r.status != 202:
            print("second PATCH:", r.status)
            return
        r, _ = req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + digest)
        if r.status != 201:
            print("final PUT:", r.status)
            return
        r, body = req("GET", "/v2/%s/blobs/%s" % (repo, digest))
        print("ok" if r.status == 200 and body == data else "different", digest, have)
    elif cmd == "get":
        h = {"Range": sys.argv[5]} if len(sys.argv) > 5 else {}
        r, body = req("GET", sys.argv[4], headers=h)
        print(r.status, len(body), hashlib.sha256(body).hexdigest(), r.getheader("Content-Range") or "-")


main()
