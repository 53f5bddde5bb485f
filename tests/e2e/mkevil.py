#!/usr/bin/env python3
"""Writes an OCI image layout whose one layer tries to write outside the layer directory: busybox,
then a symlink `escape` pointing at TARGET (an absolute host directory) and a file `escape/pwned`
written through it, then `../outside` (a path that climbs out). An agent must refuse the layer and
write nothing at TARGET. Deterministic.

Usage: mkevil.py DIR TAG TARGET
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def main():
    out, tag, target = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return "sha256:" + d, len(data)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = open("/bin/busybox", "rb").read()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode, ti.mtime = len(data), 0o755, 0
        t.addfile(ti, io.BytesIO(data))
        link = tarfile.TarInfo("escape")
        link.type, link.linkname, link.mtime = tarfile.SYMTYPE, target, 0
        t.addfile(link)
        for name in ("escape/pwned", "../outside"):
            ti = tarfile.TarInfo(name)
            payload = b"written outside the layer\n"
            ti.size, ti.mode, ti.mtime = len(payload), 0o644, 0
            t.addfile(ti, io.BytesIO(payload))
    raw = raw.getvalue()
    layer, lsize = put(gzip.compress(raw, mtime=0))
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/busybox", "true"]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}
    cdig, csize = put(json.dumps(cfg, sort_keys=True).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": lsize}]}
    mdig, msize = put(json.dumps(man, sort_keys=True).encode())
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": man["mediaType"], "digest": mdig, "size": msize,
                   "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    print(mdig)


main()
