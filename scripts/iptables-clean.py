#!/usr/bin/env python3
"""iptables-clean.py WORD...

Removes, in the filter and nat tables, the iptables rules that name any WORD (a subnet prefix such
as "172.31.235.", a bridge name) and the CNI- and GANTRY- chains that hold such rules, with the
rules that jump to them: what a test or benchmark that stopped half-way may have left of its CNI
attachments (the portmap and bridge plugins' per-container chains) and of the agent's own
per-bridge chains. The plugins' shared chains (CNI-HOSTPORT-*, CNI-FORWARD, CNI-ADMIN) stay.
Needs root and iptables-save; prints nothing; exits 0 unless iptables-save fails."""
import shlex
import subprocess
import sys

SHARED = {"CNI-FORWARD", "CNI-ADMIN", "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"}


def clean(words):
    for table in ("filter", "nat"):
        text = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=True).stdout
        rules = [l[3:] for l in text.splitlines() if l.startswith("-A ")]

        def chain_of(r):
            return r.split(" ", 1)[0]

        def names(r):
            return any(w in r for w in words)

        doomed = {chain_of(r) for r in rules if names(r) and chain_of(r).startswith(("CNI-", "GANTRY-"))}
        doomed -= SHARED
        for r in rules:
            args = shlex.split(r)
            target = args[args.index("-j") + 1] if "-j" in args else None
            if chain_of(r) not in doomed and (names(r) or target in doomed):
                subprocess.run(["iptables", "-w", "-t", table, "-D"] + args, capture_output=True)
        for ch in doomed:
            subprocess.run(["iptables", "-w", "-t", table, "-F", ch], capture_output=True)
            subprocess.run(["iptables", "-w", "-t", table, "-X", ch], capture_output=True)


if __name__ == "__main__":
    words = [w for w in sys.argv[1:] if w]
    if not words:
        sys.exit(__doc__)
    clean(words)
