#!/bin/bash
# bench/sched: in-process placement of 1,000,000 tasks onto 10,000 instances with binpack on memory,
# then with spread on attribute:ecs.availability-zone + instanceId; prints placements/s and the p50 /
# p99 / max time of one decision. Builds the release library and the benchmark first. Arguments go
# to sched-bench (--instances N --tasks M --groups G --count C --scan-sample K --scenario S).
# Goal (issue 3): all 1,000,000 placed in <= 10 s on a 2-core machine.
set -eu
cd "$(dirname "$0")/../.."
make --no-print-directory -j2 build/libgantry.a
make --no-print-directory -C bench/sched
echo "== $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
exec build/bench/sched-bench "$@"
