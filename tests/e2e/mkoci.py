#!/usr/bin/env python3
"""Writes a small OCI image layout for the registry tests: one gzip layer holding Debian's static
busybox (as bin/busybox) and FILE (a marker, so that each TAG gives a different image), a config
and a manifest tagged TAG. Deterministic: the same arguments give the same digests.

Usage: mkoci.py DIR TAG
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def main():
    out, tag = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
            f.write(data)
        return "sha256:" + d, len(data)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode in (("bin/busybox", open("/bin/busybox", "rb").read(), 0o755),
                                 ("etc/marker", ("image " + tag + "\n").encode(), 0o644)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            t.addfile(ti, io.BytesIO(data))
    raw = raw.getvalue()
    layer, lsize = put(gzip.compress(raw, mtime=0))
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/busybox", "cat", "/etc/marker"]},
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
