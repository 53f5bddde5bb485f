#!/usr/bin/env python3
"""Pushes a small image through the ECR layer API with boto3, the way the ECR proxy does it:
BatchCheckLayerAvailability, then for each missing blob InitiateLayerUpload, UploadLayerPart in
parts of the partSize the server suggests, CompleteLayerUpload; then PutImage. The layer (700,000
deterministic bytes, so more than one part) is the same for every MARKER and the config differs, so
each MARKER makes another image. Prints the manifest digest.

Usage: ecrpush.py ENDPOINT REPOSITORY MARKER [TAG]     (no TAG: an untagged image)
"""
import hashlib
import json
import sys

import e2elib


def blob_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    endpoint, repo, marker = sys.argv[1], sys.argv[2], sys.argv[3]
    tag = sys.argv[4] if len(sys.argv) > 4 else None
    ecr = e2elib.client(endpoint, service="ecr", retries=False)
    layer = b"".join(hashlib.sha256(b"layer %d" % i).digest() for i in range(700000 // 32 + 1))[:700000]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["MARKER=" + marker]},
                         "rootfs": {"type": "layers", "diff_ids": [blob_digest(layer)]}}).encode()
    have = ecr.batch_check_layer_availability(repositoryName=repo,
                                              layerDigests=[blob_digest(layer), blob_digest(config)])
    missing = [l["layerDigest"] for l in have["layers"] if l["layerAvailability"] != "AVAILABLE"]
    for data in (layer, config):
        if blob_digest(data) not in missing:
            continue
        up = ecr.initiate_layer_upload(repositoryName=repo)
        part = up["partSize"]
        for first in range(0, len(data), part):
            chunk = data[first:first + part]
            r = ecr.upload_layer_part(repositoryName=repo, uploadId=up["uploadId"], partFirstByte=first,
                                      partLastByte=first + len(chunk) - 1, layerPartBlob=chunk)
            assert r["lastByteReceived"] == first + len(chunk) - 1, r
        r = ecr.complete_layer_upload(repositoryName=repo, uploadId=up["uploadId"], layerDigests=[blob_digest(data)])
        assert r["layerDigest"] == blob_digest(data), r
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob_digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob_digest(layer),
                    "size": len(layer)}]})
    kw = {"imageTag": tag} if tag else {}
    r = ecr.put_image(repositoryName=repo, imageManifest=manifest, **kw)
    print(r["image"]["imageId"]["imageDigest"])


main()
