#!/usr/bin/env python3
"""Writes an OCI image layout with one gzip layer per directory given (files that Debian's packages
installed, e.g. /usr/lib/gcc), for bench/registry's large image. Deterministic for the same
directories and contents (mtime 0, sorted entries).

Usage: mkbig.py OUT TAG DIR...
"""
import gzip
import hashlib
import json
import os
import sys
import tarfile


def main():
    out, tag, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put_file(tmp):
        h = hashlib.sha256()
        with open(tmp, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        d = h.hexdigest()
        os.replace(tmp, os.path.join(blobs, d))
        return "sha256:" + d, os.path.getsize(os.path.join(blobs, d))

    layers, diff_ids = [], []
    for src in dirs:
        tmp = os.path.join(out, "layer.tmp")
        raw = hashlib.sha256()

        class Tee:
            def __init__(self, f):
                self.f = f

            def write(self, b):
                raw.update(b)
                return self.f.write(b)

        with open(tmp, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1, mtime=0) as gz:
            tee = Tee(gz)
            with tarfile.open(fileobj=tee, mode="w|", format=tarfile.PAX_FORMAT) as t:
                for root, subdirs, files in os.walk(src):
                    subdirs.sort()
                    for name in sorted(files) + [None]:
                        path = root if name is None else os.path.join(root, name)
                        ti = t.gettarinfo(path, arcname=path.lstrip("/"))
                        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
                        if ti.isreg():
                            with open(path, "rb") as fh:
                                t.addfile(ti, fh)
                        elif ti.isdir() or ti.issym():
                            t.addfile(ti)
        digest, size = put_file(tmp)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": size})
        diff_ids.append("sha256:" + raw.hexdigest())

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return "sha256:" + d, len(data)

    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdig, csize = put(json.dumps(cfg, sort_keys=True).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
           "layers": layers}
    mdig, msize = put(json.dumps(man, sort_keys=True).encode())
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": man["mediaType"], "digest": mdig, "size": msize,
                   "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    print(sum(l["size"] for l in layers))


main()
