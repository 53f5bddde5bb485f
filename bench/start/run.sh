#!/bin/bash
# bench/start: how long a container takes to start. gantry: RunTask -> RUNNING as DescribeTasks
# reports it, for a cached busybox image, networkMode none and bridge with a dynamic host port,
# through one `gantry agent --runtime crun` (conmon + crun, CNI bridge). Peers on the same rootfs /
# image, side by side in the same run: `crun run -d` of an OCI bundle, `podman run -d --network
# none`, and `docker run -d -p 0:8080` on Debian's docker.io (dockerd started here and stopped at the
# end). BENCH_TASKS starts per case, one at a time, each stopped and removed before the next, the
# cases taking turns (one start of each per round) so that other work on the machine meets all alike.
# Prints p50 and p99 (ms) per case, the ratios against the goals of the issue ("Benchmark
# bench/start"): none <= 4x `crun run`, none >= 5x faster than `podman run --network none`, bridge
# >= 3x faster than `docker run -p`; and where gantry's time goes (the task's own timestamps).
# See docs/PERFORMANCE.md. Needs root; installs nothing (make bench / scripts/deps.sh bench do).
#
# Settings (environment): BENCH_TASKS (50), BENCH_SUBNET gantry's bridge subnet (172.30.251.0/24),
# BENCH_DOCKER_BIP dockerd's bridge address (172.30.250.1/24), BENCH_AGENT_LOG the agent's log level
# (info), BENCH_PROFILE=1 adds where gantry's time goes step by step (the agent at debug level,
# perf recording the kernel's fork/exec/exit events: bench/start/profile.py), BENCH_KEEP=1 keeps
# the state directory (logs) for a look afterwards, GANTRY_BIN (build/gantry).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/gantry}
N=${BENCH_TASKS:-50}
GSUB=${BENCH_SUBNET:-172.30.251.0/24}
DBIP=${BENCH_DOCKER_BIP:-172.30.250.1/24}
AGENT_LOG=${BENCH_AGENT_LOG:-info}
PROFILE=${BENCH_PROFILE:-0}
[ "$PROFILE" = 1 ] && AGENT_LOG=debug
DOCKER=/usr/bin/docker # Debian's client (another `docker` may come first in PATH)
DOCKERD=/usr/sbin/dockerd

die() { echo "bench/start: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (containers, bridges, iptables)"
for c in crun conmon podman skopeo iptables iptables-save ip python3 $DOCKER $DOCKERD containerd runc docker-proxy; do
	command -v "$c" >/dev/null || die "$c is not installed (scripts/deps.sh bench installs it)"
done
for p in bridge host-local portmap loopback; do
	[ -x /usr/lib/cni/$p ] || die "/usr/lib/cni/$p is missing (containernetworking-plugins)"
done
[ -x /bin/busybox ] || die "busybox-static is not installed"
python3 -c 'import boto3' 2>/dev/null || die "python3 cannot import boto3 (python3-boto3)"
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN is missing: run 'make' first (or 'make bench')"
for net in "$GSUB" "${DBIP%.*}.0/24"; do
	pre=${net%.*}.
	if ip -4 -o addr show | grep -qF " $pre" || ip -4 route show | grep -q "^${pre//./\\.}"; then
		die "$net is in use on this host: pick another with BENCH_SUBNET / BENCH_DOCKER_BIP"
	fi
done

TMP=$(mktemp -d /var/tmp/gantry-bench-start.XXXXXX) # on disk, as a real host's state would be
GBR=gbs$$  # gantry's bridge (the agent makes it)
DBR=gbsd$$ # dockerd's bridge (made here, so that dockerd makes no docker0)
AGENT_STATE=$TMP/agent
SERVER_PID="" AGENT_PID="" DOCKERD_PID="" PERF_PID=""
CRUN=(crun --root "$TMP/crun-root")
DK=("$DOCKER" --config "$TMP/docker/client" -H "unix://$TMP/docker/docker.sock") # not exported: podman reads DOCKER_CONFIG too
PODMAN=(podman --root "$TMP/podman/root" --runroot "$TMP/podman/run" --storage-driver overlay
	--cgroup-manager cgroupfs --runtime crun --events-backend file
	--network-config-dir "$TMP/podman/net" --tmpdir "$TMP/podman/tmp")
CG_MOUNTS=()
DOCKER_CHAINS_BEFORE=$( (iptables-save -t filter; iptables-save -t nat) | grep -c '^:DOCKER' || true)
FWD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward)
FWD_POLICY_BEFORE=$(iptables -S FORWARD | awk '$1 == "-P" {print $3}')
# Paths dockerd and its containerd create outside their --data-root/--exec-root (hardcoded).
DOCKER_LITTER=(/etc/docker/key.json /run/docker/plugins /run/docker /run/containerd/s /run/containerd)
declare -A LITTER_BEFORE=()
for p in "${DOCKER_LITTER[@]}"; do [ -e "$p" ] && LITTER_BEFORE[$p]=1; done
# Parent cgroups the runtimes make (v1 hierarchies and the unified one): removed if made here.
CG_PARENTS=(docker libpod_parent gantry)
declare -A CG_BEFORE=()
for d in /sys/fs/cgroup/*/; do
	for p in "${CG_PARENTS[@]}"; do [ -d "$d$p" ] && CG_BEFORE[$d$p]=1; done
done

stop_pid() { # pid [seconds]: SIGTERM, then SIGKILL after the grace period
	local pid=$1 limit=${2:-20}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((limit * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}
docker_iptables_clean() {
	# What dockerd added (it leaves its chains and rules behind when it stops): only when no DOCKER
	# chain was there before this run (another dockerd on the host owns those).
	[ "$DOCKER_CHAINS_BEFORE" = 0 ] || return 0
	local t rule ch
	for t in filter nat; do
		iptables-save -t "$t" | grep -E "^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*(-j DOCKER|$DBR)" |
			sed 's/^-A //' | while read -r rule; do eval "iptables -t $t -D $rule" || true; done
		for ch in $(iptables-save -t "$t" | sed -n 's/^:\(DOCKER[^ ]*\) .*/\1/p'); do iptables -t "$t" -F "$ch"; done
		for ch in $(iptables-save -t "$t" | sed -n 's/^:\(DOCKER[^ ]*\) .*/\1/p'); do iptables -t "$t" -X "$ch"; done
	done
}
gantry_leftovers() {
	local d root=$AGENT_STATE/crun-runtime/crun/crun
	if [ -d "$root" ]; then
		for d in "$root"/*/; do [ -d "$d" ] && crun --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1; done
	fi
	if [ -d "$AGENT_STATE/crun-runtime/tasks" ]; then
		for d in "$AGENT_STATE"/crun-runtime/tasks/*/; do
			[ -d "$d" ] || continue
			find /sys/fs/cgroup/*/gantry/"$(basename "$d")" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	fi
	python3 "$ROOT/scripts/iptables-clean.py" "${GSUB%.*}." "$GBR"
}
cleanup() {
	set +e
	local d m p
	# gantry: tasks still there (a run that failed) are stopped through the API, so that the agent
	# undoes their networks and mounts; then the agent (its containers would outlive it), whatever
	# it left (crun's containers, their cgroups, CNI's iptables rules), and the server.
	if [ -n "$AGENT_PID" ] && [ -n "$SERVER_PID" ] && [ -n "${ENDPOINT:-}" ]; then
		timeout 40 python3 "$HERE/starts.py" drain "$ENDPOINT" bench "$AGENT_STATE" 2>/dev/null
	fi
	stop_pid "$AGENT_PID"
	stop_pid "$PERF_PID"
	gantry_leftovers
	stop_pid "$SERVER_PID"
	# crun's and podman's containers.
	if [ -d "$TMP/crun-root" ]; then
		for d in "$TMP"/crun-root/*/; do [ -d "$d" ] && crun --root "$TMP/crun-root" delete -f "$(basename "$d")" >/dev/null 2>&1; done
	fi
	[ -d "$TMP/podman" ] && "${PODMAN[@]}" rm -a -f -t 0 >/dev/null 2>&1
	# docker: its containers, then dockerd (which stops its containerd), then what it leaves.
	if [ -n "$DOCKERD_PID" ]; then
		"${DK[@]}" ps -aq 2>/dev/null | xargs -r "${DK[@]}" rm -f >/dev/null 2>&1
		stop_pid "$DOCKERD_PID" 30
	fi
	docker_iptables_clean
	for p in "${DOCKER_LITTER[@]}"; do
		[ -n "${LITTER_BEFORE[$p]:-}" ] && continue
		if [ -d "$p" ]; then rmdir "$p" 2>/dev/null; else rm -f "$p"; fi
	done
	ip link del "$DBR" 2>/dev/null
	ip link del "$GBR" 2>/dev/null
	# Mounts under the state directory (overlay roots, netns, podman's and docker's storage).
	grep " $TMP/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
	for m in "${CG_MOUNTS[@]}"; do umount "$m" && rmdir "$m"; done
	for d in /sys/fs/cgroup/*/; do
		for p in "${CG_PARENTS[@]}"; do
			[ -d "$d$p" ] && [ -z "${CG_BEFORE[$d$p]:-}" ] &&
				find "$d$p" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
	[ "$FWD_BEFORE" = 0 ] && echo 0 >/proc/sys/net/ipv4/ip_forward
	[ -n "$FWD_POLICY_BEFORE" ] && iptables -P FORWARD "$FWD_POLICY_BEFORE"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench/start: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# busy: % of the machine's CPU time that was not idle (nor iowait) since the given /proc/stat line.
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, t - $5 - $6 }' /proc/stat; }
busy_since() { # total busy (from cpu_ticks)
	local t b
	read -r t b < <(cpu_ticks)
	echo $((100 * (b - $2) / (t - $1 > 0 ? t - $1 : 1)))
}
read -r T0 B0 < <(cpu_ticks)
sleep 1
echo "# bench/start: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores" \
	"($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p)); machine $(busy_since "$T0" "$B0")% busy" \
	"in the second before, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$GANTRY_BIN" version 2>/dev/null | sed -n 1p); $(crun --version | sed -n 1p); conmon $(conmon --version | sed -n 's/^conmon version //p');" \
	"$(podman --version); $($DOCKERD --version | sed 's/,.*//'); $(runc --version | sed -n 1p)"

# A hybrid cgroup host (v1 hierarchies + a unified one): crun refuses to run while a controller sits
# in cgroup v2. Such a controller is mounted as a v1 hierarchy of this run's own, and unmounted at
# the end (the agent would otherwise do it for good under /sys/fs/cgroup).
if [ -s /sys/fs/cgroup/unified/cgroup.controllers ]; then
	for ctl in $(</sys/fs/cgroup/unified/cgroup.controllers); do
		mkdir -p "$TMP/cgroup-v1/$ctl"
		mount -t cgroup -o "$ctl" cgroup "$TMP/cgroup-v1/$ctl" ||
			die "cannot move the $ctl cgroup controller to a v1 hierarchy (crun needs that here)"
		CG_MOUNTS+=("$TMP/cgroup-v1/$ctl")
		echo "# hybrid cgroups: the $ctl controller mounted as v1 at $TMP/cgroup-v1/$ctl for this run"
	done
fi

# ---- the image: Debian's static busybox and a page for httpd ----
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/www" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/"
for a in sh httpd sleep true; do ln -s busybox "$ROOTFS/bin/$a"; done
echo "gantry bench/start" >"$ROOTFS/www/index.html"

# ---- gantry: a server and one crun agent ----
KEY=GKIA$(python3 -c 'import secrets; print(secrets.token_hex(8).upper())')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
printf '%s %s 000000000000\n' "$KEY" "$SECRET" >"$TMP/credentials"
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
mkdir -p "$TMP/gantry-data"
"$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$TMP/gantry-data" --credentials "$TMP/credentials" \
	--ready-file "$TMP/ready" --agent-timeout 86400 >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
	[ -s "$TMP/ready" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.05
done
[ -s "$TMP/ready" ] || { cat "$TMP/server.log" >&2; die "gantry server did not start"; }
ENDPOINT=$(cat "$TMP/ready")
python3 -c 'import boto3, sys; boto3.client("ecs", endpoint_url=sys.argv[1]).create_cluster(clusterName="bench")' "$ENDPOINT"
AGENT_CMD=("$GANTRY_BIN" agent --server "$ENDPOINT" --cluster bench --runtime crun --state "$AGENT_STATE"
	--bridge "$GBR" --subnet "$GSUB" --log-level "$AGENT_LOG")
if [ "$PROFILE" = 1 ]; then
	# Every process the machine forks, execs and ends (kernel tracepoints, no stop of the traced):
	# profile.py keeps the agent's descendants (conmon, crun, the CNI plugins, their iptables).
	command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (linux-perf)"
	python3 -c 'import time; print(time.time() - time.monotonic())' >"$TMP/clock-offset"
	perf record -q -k CLOCK_MONOTONIC -a -o "$TMP/perf.data" -e sched:sched_process_fork \
		-e sched:sched_process_exec -e sched:sched_process_exit >"$TMP/perf.log" 2>&1 &
	PERF_PID=$!
	sleep 1
fi
"${AGENT_CMD[@]}" >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
"$GANTRY_BIN" image import --endpoint "$ENDPOINT" --create-repository --env PATH=/bin \
	--oci-layout "$TMP/oci" "$ROOTFS" bb:1 >"$TMP/import.log" 2>&1 || { cat "$TMP/import.log" >&2; die "image import failed"; }
IMG=${ENDPOINT#http://}/bb:1
mkdir -p "$TMP/out"
json_argv() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }
# case_line NAME START-ARGV-JSON STOP-ARGV-JSON: a peer's case for starts.py (one line of $TMP/cases)
case_line() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$TMP/cases"; }
: >"$TMP/cases"

# ---- crun run: an OCI bundle on the same rootfs ----
# `crun spec`'s config with the process made `sleep 3600` (no terminal), the root the busybox
# rootfs (read-only) and the rlimits within this host's hard limits. `crun run -d` is create +
# start: it returns once the container's process runs (checked once with `crun state`).
mkdir -p "$TMP/bundle" "$TMP/crun-root"
(cd "$TMP/bundle" && crun spec)
python3 - "$TMP/bundle/config.json" "$ROOTFS" <<'EOF'
import json, sys
path, rootfs = sys.argv[1:]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "3600"]
c["process"]["env"] = ["PATH=/bin"]
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
c["root"] = {"path": rootfs, "readonly": True}
json.dump(c, open(path, "w"))
EOF
"${CRUN[@]}" run -d --bundle "$TMP/bundle" bs-check </dev/null >/dev/null
"${CRUN[@]}" state bs-check | grep -q '"status": "running"' || die "crun run -d: the container is not running"
"${CRUN[@]}" delete -f bs-check
case_line crun "$(json_argv "${CRUN[@]}" run -d --bundle "$TMP/bundle" "bs-{i}")" \
	"$(json_argv "${CRUN[@]}" delete -f "bs-{i}")"

# ---- podman run --network none: storage of its own, the image from the OCI layout ----
mkdir -p "$TMP/podman/net" "$TMP/podman/tmp"
# The same image as a docker-archive named localhost/bb:1, for podman and docker.
skopeo copy -q "oci:$TMP/oci:1" "docker-archive:$TMP/bb.tar:localhost/bb:1"
"${PODMAN[@]}" load -q -i "$TMP/bb.tar" >"$TMP/podman.log" 2>&1 || { cat "$TMP/podman.log" >&2; die "podman load failed"; }
case_line podman "$(json_argv "${PODMAN[@]}" run -d --network none --ulimit nofile=1024:1024 \
	--ulimit nproc=1024:1024 localhost/bb:1 sleep 3600)" "$(json_argv "${PODMAN[@]}" rm -f -t 0 "{out}")"

# ---- docker run -p: Debian's dockerd with everything of its own, on a bridge made here ----
mkdir -p "$TMP/docker/client"
echo '{}' >"$TMP/docker/daemon.json"
ip link add "$DBR" type bridge
ip addr add "$DBIP" dev "$DBR"
ip link set "$DBR" up
$DOCKERD --config-file "$TMP/docker/daemon.json" --data-root "$TMP/docker/data" --exec-root "$TMP/docker/exec" \
	-H "unix://$TMP/docker/docker.sock" --pidfile "$TMP/docker/dockerd.pid" --bridge "$DBR" \
	--iptables=true --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
	--log-level warn >"$TMP/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 300); do
	"${DK[@]}" version >/dev/null 2>&1 && break
	kill -0 "$DOCKERD_PID" 2>/dev/null || break
	sleep 0.1
done
"${DK[@]}" version >/dev/null 2>&1 || { tail -20 "$TMP/dockerd.log" >&2; die "dockerd did not start"; }
"${DK[@]}" load -q -i "$TMP/bb.tar" >/dev/null
cid=$("${DK[@]}" run -d -p 0:8080 localhost/bb:1 httpd -f -p 8080 -h /www)
port=$("${DK[@]}" port "$cid" 8080/tcp | sed -n "1s/.*://p")
ok=
for _ in $(seq 1 50); do
	python3 -c 'import sys, urllib.request; sys.exit(b"bench" not in urllib.request.urlopen(sys.argv[1], timeout=2).read())' \
		"http://127.0.0.1:$port/index.html" 2>/dev/null && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || die "docker run -p: the container does not serve on 127.0.0.1:$port"
"${DK[@]}" rm -f "$cid" >/dev/null
case_line docker "$(json_argv "${DK[@]}" run -d -p 0:8080 localhost/bb:1 httpd -f -p 8080 -h /www)" \
	"$(json_argv "${DK[@]}" rm -f "{out}")"
case_line docker-none "$(json_argv "${DK[@]}" run -d --network none --ulimit nofile=1024:1024 localhost/bb:1 sleep 3600)" \
	"$(json_argv "${DK[@]}" rm -f "{out}")"

# ---- the runs: every case once per round, one start at a time ----
echo "bench/start: $N rounds of: gantry none, gantry bridge, $(cut -f1 "$TMP/cases" | paste -sd, | sed 's/,/, /g')" >&2
python3 "$HERE/starts.py" run "$N" "$TMP/out" "$TMP/cases" "$ENDPOINT" bench "$IMG" "$AGENT_STATE" "${GSUB%.*}." ||
	{ tail -20 "$TMP/agent.log" >&2; die "the runs failed"; }
kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$TMP/agent.log" >&2; die "the agent died"; }

# Stop what ran (every task and container was removed after its start).
stop_pid "$AGENT_PID"
AGENT_PID_SEEN=$AGENT_PID
AGENT_PID=
[ "$PROFILE" = 1 ] && stop_pid "$PERF_PID"
gantry_leftovers
stop_pid "$SERVER_PID"
SERVER_PID=
"${DK[@]}" ps -aq | xargs -r "${DK[@]}" rm -f >/dev/null
stop_pid "$DOCKERD_PID" 30
DOCKERD_PID=
if [ "$PROFILE" = 1 ]; then
	perf script -i "$TMP/perf.data" >"$TMP/perf.txt" 2>/dev/null
	python3 "$HERE/profile.py" "$TMP/agent.log" "$TMP/perf.txt" "$(cat "$TMP/clock-offset")" "$AGENT_PID_SEEN" \
		"$TMP/out" >"$TMP/profile.txt"
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$TMP/perf.data" "$TMP/perf.txt"
fi

# ---- the table ----
echo
read -r nbusy nstarts <"$TMP/out/busy"
echo "# $nbusy of $nstarts starts found the machine still busy (> 10 % over 50 ms) after waiting 2 s" \
	"for it to settle; over the whole run it was $(busy_since "$T0" "$B0")% busy (this run's work included)"
declare -A P50 P99
for c in gantry-none crun podman gantry-bridge docker docker-none; do
	read -r P50[$c] P99[$c] < <(python3 "$HERE/starts.py" stats "$TMP/out/$c.txt")
done
row() { printf '%-44s %9s %9s\n' "$1" "${P50[$2]}" "${P99[$2]}"; }
echo
echo "bench/start: start to running, $N starts per case, one at a time, ms"
printf '%-44s %9s %9s\n' case p50 p99
row "gantry RunTask, networkMode none" gantry-none
row "crun run -d (same rootfs)" crun
row "podman run -d --network none" podman
row "gantry RunTask, bridge, hostPort 0" gantry-bridge
row "docker run -d -p 0:8080" docker
row "docker run -d --network none (reference)" docker-none
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
goal() { # text value-p50 value-p99 op limit
	local met=met
	python3 -c "import sys; v, l = float(sys.argv[1]), float(sys.argv[3]); sys.exit(not (v <= l if sys.argv[2] == '<=' else v >= l))" "$2" "$4" "$5" || met="NOT met"
	printf '  %-46s %6s× (p99 %s×)  goal %s %s×: %s\n' "$1" "$2" "$3" "$4" "$5" "$met"
}
echo
echo "goals (on p50):"
goal "gantry none / crun run" "$(ratio "${P50[gantry-none]}" "${P50[crun]}")" \
	"$(ratio "${P99[gantry-none]}" "${P99[crun]}")" "<=" 4
goal "podman run --network none / gantry none" "$(ratio "${P50[podman]}" "${P50[gantry-none]}")" \
	"$(ratio "${P99[podman]}" "${P99[gantry-none]}")" ">=" 5
goal "docker run -p / gantry bridge" "$(ratio "${P50[docker]}" "${P50[gantry-bridge]}")" \
	"$(ratio "${P99[docker]}" "${P99[gantry-bridge]}")" ">=" 3
echo
echo "where gantry's time goes (median ms per phase, from the task's timestamps, ms precision):"
printf '  %-8s %14s %16s %14s %18s %15s\n' mode "call->created" "created->pull0" "pull (cached)" "pulled->startedAt" "startedAt->seen"
for m in none bridge; do python3 "$HERE/starts.py" phases "$m" "$TMP/out/gantry-$m.tasks"; done
if [ "$PROFILE" = 1 ]; then
	echo
	echo "profile (BENCH_PROFILE=1): the agent's steps, from its debug log and the kernel's process events"
	cat "$TMP/profile.txt"
fi
