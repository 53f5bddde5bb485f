# shellcheck shell=bash
# Shared by the end-to-end tests that run real containers (source it after lib.sh): one crun agent
# of the test's own, with its state under $TMP, a bridge, subnet and metadata port nobody else
# uses, and a cleanup that removes whatever a failed run left behind.

# crun_require [PROGRAM...]: skips the whole test (TAP "1..0 # SKIP", exit 0) unless it runs as
# root with crun, conmon, iptables, Debian's static busybox and the extra programs (names on PATH
# or absolute paths) at hand.
crun_require() {
	local b
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 0; }
	for b in crun conmon iptables "$@"; do
		command -v "$b" >/dev/null || [ -x "$b" ] || { echo "1..0 # SKIP $b is not installed"; exit 0; }
	done
	[ -x /bin/busybox ] || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
}

# crun_setup NAME OFFSET: sets AGENT_STATE, BRIDGE (g<NAME><pid>), SUBNET (172.31.X.0/24, X from
# the pid and OFFSET, so that tests run side by side get different ones) and META_PORT, and installs
# crun_cleanup as the EXIT trap.
crun_setup() {
	AGENT_STATE=$TMP/agent
	AGENT_PID=
	BRIDGE=g$1$$
	SUBNET=172.31.$((200 + ($$ + $2) % 50)).0/24
	META_PORT=$(e2epy -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	trap crun_cleanup EXIT
}

# start_agent [OPTION...]: starts the agent on cluster $C (which must exist: the agent does not
# create it), with the extra options given.
start_agent() {
	"$GANTRY_BIN" agent --server "$ENDPOINT" --bridge "$BRIDGE" --subnet "$SUBNET" --metadata-port "$META_PORT" \
		--cluster "$C" --runtime crun --state "$AGENT_STATE" "$@" >>"$TMP/agent.log" 2>&1 &
	AGENT_PID=$!
	EXTRA_PIDS+=($AGENT_PID)
}

# check_agent_registered: a test that passes once cluster $C lists the agent's instance.
check_agent_registered() {
	local n
	for _ in $(seq 1 100); do
		n=$(aws1 ecs list-container-instances --cluster "$C" --query 'length(containerInstanceArns)' --output text 2>/dev/null)
		[ "$n" = 1 ] && break
		sleep 0.2
	done
	check "the crun agent registered" test "$n" = 1
}

# wait_status ARN STATUS [seconds]: polls describe-tasks until lastStatus is STATUS.
wait_status() {
	local arn=$1 want=$2 limit=${3:-60} st
	for _ in $(seq 1 $((limit * 5))); do
		st=$(aws1 ecs describe-tasks --cluster "$C" --tasks "$arn" --query 'tasks[0].lastStatus' --output text 2>/dev/null)
		[ "$st" = "$want" ] && return 0
		sleep 0.2
	done
	echo "# $arn is $st, not $want" >&2
	return 1
}

crun_cleanup() {
	local d
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	# Whatever a failed run left: containers (in the crun root this test owns), mounts, the bridge.
	if [ -d "$AGENT_STATE/crun-runtime/crun/crun" ]; then
		for d in "$AGENT_STATE"/crun-runtime/crun/crun/*/; do
			[ -d "$d" ] && crun --root "$AGENT_STATE/crun-runtime/crun/crun" delete --force "$(basename "$d")" 2>/dev/null
		done
	fi
	grep " $AGENT_STATE/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
	ip link del "$BRIDGE" 2>/dev/null
	# A namespace the test made to stand for another host (deleting it deletes its veth too).
	[ -n "${OUT_NS:-}" ] && ip netns del "$OUT_NS" 2>/dev/null
	# The port mappings of tasks a failed run left running, and the network's own chains should
	# the agent not have removed them (it does when it exits with no task left).
	python3 "$ROOT/scripts/iptables-clean.py" "${SUBNET%.*}." "$BRIDGE"
	cleanup
}
