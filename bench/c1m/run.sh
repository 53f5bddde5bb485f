#!/bin/bash
# bench/c1m: end to end through the ECS API with hollow agents. Starts a release `gantry server`
# (state on this machine's disk) and one `gantry agent --runtime fake --count AGENTS` process, waits
# until all AGENTS container instances are registered, then RunTask (count 10 per call, a task of
# cpu 32 / memory 64) from THREADS concurrent signed-request clients until TASKS tasks are placed,
# and measures tasks/s from the first RunTask until DescribeClusters shows all TASKS RUNNING; then
# the server's and the agent process's peak RSS (VmHWM). See docs/PERFORMANCE.md.
#
# Settings (environment): C1M_AGENTS (1000), C1M_TASKS (100000), C1M_THREADS load-generator
# threads (4), C1M_PER_CALL RunTask count (10), GANTRY_BIN (build/gantry, built with `make all`).
# Each agent offers cpu 4096 / memory 16384: room for 128 tasks of cpu 32.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/gantry}
AGENTS=${C1M_AGENTS:-1000}
TASKS=${C1M_TASKS:-100000}
THREADS=${C1M_THREADS:-4}
PER_CALL=${C1M_PER_CALL:-10}

die() { echo "bench/c1m: $*" >&2; exit 1; }
python3 -c 'import botocore' 2>/dev/null || die "python3 cannot import botocore"
if [ "$GANTRY_BIN" = "$ROOT/build/gantry" ]; then
	make --no-print-directory -C "$ROOT" -j2 all >/dev/null || die "make all failed"
fi
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN is missing: run 'make all' first"
[ $((AGENTS * 128)) -ge "$TASKS" ] || die "$AGENTS agents have room for $((AGENTS * 128)) tasks, not $TASKS"

TMP=$(mktemp -d /tmp/gantry-c1m.XXXXXX)
SERVER_PID=
AGENT_PID=
LOAD_PID=
cleanup() {
	for pid in $LOAD_PID $AGENT_PID $SERVER_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KEY=GKIA$(python3 -c 'import secrets; print(secrets.token_hex(8).upper())')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
printf '%s %s 000000000000\n' "$KEY" "$SECRET" >"$TMP/credentials"
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1

mkdir -p "$TMP/data" "$TMP/agent"
"$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$TMP/data" --credentials "$TMP/credentials" \
	--ready-file "$TMP/ready" --agent-timeout 60 --log-level warn >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
	[ -s "$TMP/ready" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.05
done
[ -s "$TMP/ready" ] || { cat "$TMP/server.log" >&2; die "the server did not start"; }
URL=$(cat "$TMP/ready")

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# bench/c1m: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($cpu)"
echo "# gantry $("$GANTRY_BIN" version 2>/dev/null | awk '{print $2}') at $URL; $AGENTS hollow agents" \
	"(one process), $TASKS tasks, RunTask count $PER_CALL from $THREADS threads"
others=$(pgrep -c -x wrk || true)
[ "$others" = 0 ] || echo "# WARNING: $others wrk process(es) running (bench/api?): figures will be low"
read -r load1 _ </proc/loadavg
echo "# load average before the run: $load1"

ticks() { # utime + stime of a process, in clock ticks
	local s
	read -r -a s < <(sed 's/.*) //' "/proc/$1/stat")
	echo $((s[11] + s[12]))
}

python3 "$HERE/load.py" "$URL" c1m "$AGENTS" "$TASKS" "$THREADS" "$PER_CALL" >"$TMP/load.out" &
LOAD_PID=$!
LOAD_FAILED="the load generator failed"
# wait_for TEXT: until the load generator prints TEXT; gives up when it or the agent exits.
wait_for() {
	while ! grep -q "$1" "$TMP/load.out" 2>/dev/null; do
		kill -0 "$LOAD_PID" 2>/dev/null || { cat "$TMP/load.out"; die "$LOAD_FAILED"; }
		if [ -n "$AGENT_PID" ] && ! kill -0 "$AGENT_PID" 2>/dev/null; then
			tail -n 20 "$TMP/agent.log" >&2
			die "the agent process died"
		fi
		sleep 0.05
	done
}
wait_for 'definition ready'
"$GANTRY_BIN" agent --server "$URL" --runtime fake --count "$AGENTS" --cluster c1m --cpu 4096 \
	--memory 16384 --state "$TMP/agent" --log-level warn >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
# Take CPU counters from when registration is done.
wait_for 'registered in'
s0=$(ticks "$SERVER_PID")
a0=$(ticks "$AGENT_PID")
while kill -0 "$LOAD_PID" 2>/dev/null; do # the agent must live for the whole run
	kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 20 "$TMP/agent.log" >&2; die "the agent process died"; }
	sleep 0.2
done
wait "$LOAD_PID" || { cat "$TMP/load.out"; tail -n 20 "$TMP/server.log" "$TMP/agent.log" >&2; die "the load generator failed"; }
s1=$(ticks "$SERVER_PID")
a1=$(ticks "$AGENT_PID")
kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$TMP/server.log" >&2; die "the server died"; }
kill -0 "$AGENT_PID" 2>/dev/null || { tail -n 20 "$TMP/agent.log" >&2; die "the agent died"; }
grep -v '^RESULT' "$TMP/load.out" || true
line=$(grep '^RESULT ' "$TMP/load.out") || die "no RESULT from the load generator"
for kv in ${line#RESULT }; do printf -v "R_${kv%%=*}" '%s' "${kv#*=}"; done

hwm() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
rss() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
echo "# RunTask: $R_calls calls placed $R_placed tasks in ${R_runtask_s} s = $R_runtask_tps tasks/s" \
	"($R_failures failures retried)"
echo "# RUNNING: all $TASKS RUNNING ${R_running_s} s after the first RunTask = $R_running_tps tasks/s" \
	"(peak pending $R_peak_pending)"
echo "# CPU from the first RunTask to all RUNNING: server $(awk -v t=$((s1 - s0)) -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz }') s," \
	"agent $(awk -v t=$((a1 - a0)) -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz }') s"
echo "# server: peak RSS $(hwm "$SERVER_PID") MiB (now $(rss "$SERVER_PID") MiB); agent process ($AGENTS" \
	"hollow hosts): peak RSS $(hwm "$AGENT_PID") MiB (now $(rss "$AGENT_PID") MiB); state on disk" \
	"$(du -sm "$TMP/data" | cut -f1) MiB"
echo
printf '| agents | tasks | RunTask tasks/s | RunTask→RUNNING tasks/s | server peak RSS | agent peak RSS |\n'
printf '| %s | %s | %s | %s | %s MiB | %s MiB |\n' "$AGENTS" "$TASKS" "$R_runtask_tps" "$R_running_tps" \
	"$(hwm "$SERVER_PID")" "$(hwm "$AGENT_PID")"
