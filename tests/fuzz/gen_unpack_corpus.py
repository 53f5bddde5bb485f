#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_unpack into tests/fuzz/corpus/unpack/: small layers, plain and
compressed, with every entry type, whiteouts, and the escapes unpack_layer refuses (the fuzz
target runs them beside a canary directory `outside`, which the symlinks point at). Deterministic;
needs the zstd command for the .zst seed. Usage: tests/fuzz/gen_unpack_corpus.py"""
import bz2
import gzip
import io
import lzma
import os
import subprocess
import tarfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "unpack")
MTIME = 1600000000


def entry(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, link="", major=0, minor=0, pax=None):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.linkname = link
    ti.devmajor, ti.devminor = major, minor
    if pax:
        ti.pax_headers = pax
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    return ti, data


def tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if ti.size else None)
    # Without tarfile's padding to a 10240-byte record: the last member's blocks, then the two
    # zero blocks that end an archive. Smaller seeds mutate faster.
    body = buf.getvalue().rstrip(b"\0")
    return body + b"\0" * (-len(body) % 512 + 1024)


D, L, H = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
BASIC = [
    entry("./", D, mode=0o755),
    entry("etc/", D, mode=0o755),
    entry("etc/hosts", data=b"127.0.0.1 localhost\n", pax={"SCHILY.xattr.user.note": "kept"}),
    entry("bin/su", data=b"#!setuid\n", mode=0o4755),
    entry("bin/su2", H, link="bin/su"),
    entry("etc/localtime", L, link="/usr/share/zoneinfo/UTC", mode=0o777),
    entry("run/fifo", tarfile.FIFOTYPE, mode=0o600),
    entry("dev/null", tarfile.CHRTYPE, mode=0o666, major=1, minor=3),
    entry("etc/.wh.passwd"),
    entry("usr/lib/.wh..wh..opq"),
    entry("usr/lib/new", data=b"n"),
]
SEEDS = {
    "basic.tar": tar(BASIC),
    "basic-gnu.tar": tar(BASIC[:8] + [entry("d/" + "n" * 150, data=b"long name")], tarfile.GNU_FORMAT),
    "basic-ustar.tar": tar(BASIC[:6], tarfile.USTAR_FORMAT),
    "empty": b"",
    "empty.tar": b"\0" * 1024,
    "escape-symlink.tar": tar([entry("a", L, link="../outside"), entry("a/x", data=b"pwned")]),
    "escape-symlink-opaque.tar": tar([entry("b", L, link="../outside"), entry("b/.wh..wh..opq")]),
    "escape-symlink-whiteout.tar": tar([entry("c/", D), entry("c/d", L, link="../../outside"),
                                        entry("c/d/.wh.y")]),
    "escape-dotdot.tar": tar([entry("ok", data=b"1"), entry("../outside/x", data=b"pwned")]),
    "escape-absolute.tar": tar([entry("/abs", data=b"abs"), entry("/../outside/x", data=b"pwned")]),
    "escape-hardlink.tar": tar([entry("a", L, link="../outside"), entry("h", H, link="a/x")]),
    "escape-hardlink-dotdot.tar": tar([entry("f", data=b"f"), entry("i", H, link="../outside/y")]),
    "replace.tar": tar([entry("a", data=b"file"), entry("a/", D), entry("a/in", data=b"in"),
                        entry("b/c/d", data=b"d"), entry("b", data=b"now a file"),
                        entry("s", L, link="../outside/f"), entry("s", data=b"replaced"),
                        entry("k/", D, mode=0o755), entry("k/", D, mode=0o700)]),
    "whiteouts.tar": tar([entry(".wh.gone"), entry("keep", data=b"k"), entry(".wh.keep"),
                          entry(".wh.later"), entry("later", data=b"l"), entry(".wh..wh..opq"),
                          entry(".wh..wh.plnk/", D), entry(".wh..wh.plnk/1", data=b"1")]),
    "whiteout-invalid.tar": tar([entry("x/.wh..")]),
    "hardlink-aufs.tar": tar([entry(".wh..wh.plnk/1", data=b"1"), entry("h", H, link=".wh..wh.plnk/1")]),
}
plain = SEEDS["basic.tar"]
SEEDS["basic.tar.gz"] = gzip.compress(plain, mtime=0)
SEEDS["basic.tar.xz"] = lzma.compress(plain)
SEEDS["basic.tar.bz2"] = bz2.compress(plain)
SEEDS["basic.tar.zst"] = subprocess.run(["zstd", "-q", "-c"], input=plain, capture_output=True, check=True).stdout
SEEDS["twice.tar.gz.gz"] = gzip.compress(SEEDS["basic.tar.gz"], mtime=0)
SEEDS["truncated.tar.gz"] = SEEDS["basic.tar.gz"][: len(SEEDS["basic.tar.gz"]) // 2]

os.makedirs(OUT, exist_ok=True)
for name, data in sorted(SEEDS.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")
