#!/bin/bash
# bench/api: gantry's ECS API against moto_server, side by side on this machine, driven by the same
# load generator (wrk + load.lua) with the same SigV4-signed requests (reqs.py). Prints requests/s
# per operation and for an equal mix of the four, and the ratio gantry / moto. See docs/PERFORMANCE.md.
#
# Settings (environment): BENCH_DURATION seconds measured per run (10), BENCH_WARMUP seconds of
# warm-up before each (2), BENCH_CONNECTIONS (64), BENCH_THREADS wrk threads (1),
# BENCH_CREATES pre-signed CreateCluster names per target (30000 per second of warm-up + run),
# BENCH_ONLY a regex of the workload names to run (all), BENCH_MOTO_INSTANCES container instances
# RunTask places on (40), GANTRY_BIN (build/gantry). Exits 1 when a run is invalid (errors, or not enough fresh names).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/gantry}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-1}
CREATES=${BENCH_CREATES:-$(((WARMUP + DURATION) * 30000))}
MIX_CREATES=$((CREATES / 2))
GOAL=30
ONLY=${BENCH_ONLY:-.} # run only the workloads whose name matches this regex (e.g. '^(RunTask|DescribeTasks)$')
NOISY=${BENCH_NOISY:-60} # % of a core used by neither server nor wrk above which a run is flagged

die() { echo "bench/api: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v moto_server >/dev/null || die "moto_server is not installed (pip install 'moto[server]')"
command -v curl >/dev/null || die "curl is not installed"
python3 -c 'import botocore' 2>/dev/null || die "python3 cannot import botocore"
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN is missing: run 'make' first (or 'make bench')"

TMP=$(mktemp -d /tmp/gantry-bench.XXXXXX)
GANTRY_PID=
MOTO_PID=
cleanup() {
	for pid in $GANTRY_PID $MOTO_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One credential for both targets (moto accepts any); a fresh random one per run.
KEY=GKIA$(python3 -c 'import secrets; print(secrets.token_hex(8).upper())')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
ACCOUNT=000000000000
printf '%s %s %s\n' "$KEY" "$SECRET" "$ACCOUNT" >"$TMP/credentials"

# gantry, with its state on this machine's disk like any install (not tmpfs): writes are fsynced.
mkdir -p "$TMP/gantry-data"
"$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$TMP/gantry-data" --credentials "$TMP/credentials" \
	--ready-file "$TMP/ready" --agent-timeout 86400 >"$TMP/gantry.log" 2>&1 &
GANTRY_PID=$!
MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$TMP/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 200); do
	[ -s "$TMP/ready" ] && break
	kill -0 "$GANTRY_PID" 2>/dev/null || break
	sleep 0.05
done
[ -s "$TMP/ready" ] || { cat "$TMP/gantry.log" >&2; die "gantry did not start"; }
GANTRY_URL=$(cat "$TMP/ready")
MOTO_URL=http://127.0.0.1:$MOTO_PORT
for _ in $(seq 1 300); do
	curl -fs -o /dev/null "$MOTO_URL/moto-api/" && break
	kill -0 "$MOTO_PID" 2>/dev/null || break
	sleep 0.1
done
curl -fs -o /dev/null "$MOTO_URL/moto-api/" || { cat "$TMP/moto.log" >&2; die "moto_server did not start"; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "# bench/api: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($cpu)"
echo "# gantry $("$GANTRY_BIN" version 2>/dev/null | awk '{print $2}') at $GANTRY_URL;" \
	"moto_server $(python3 -c 'import moto; print(moto.__version__)') at $MOTO_URL"
echo "# wrk: $THREADS thread(s), $CONNS connections, ${WARMUP}s warm-up + ${DURATION}s per run;" \
	"$CREATES + $MIX_CREATES fresh CreateCluster names per target"

# Set up each target (cluster `bench`, family `bench-web`) and write its signed requests.
for t in gantry moto; do
	url=$GANTRY_URL
	[ "$t" = moto ] && url=$MOTO_URL
	python3 "$HERE/reqs.py" "$url" "$KEY" "$SECRET" "$TMP/$t" "$CREATES" "$MIX_CREATES" ||
		die "setting up $t failed"
done

# CPU accounting, to show what each run had: ticks of one process (all its threads), and
# "total busy" ticks of the machine (busy = all but idle and iowait).
proc_ticks() {
	local s
	read -r -a s < <(sed 's/.*) //' "/proc/$1/stat")
	echo $((s[11] + s[12]))
}
# CPU of this script's finished children (wrk, in its command substitution): cutime + cstime.
child_ticks() {
	local s
	read -r -a s < <(sed 's/.*) //' "/proc/$$/stat")
	echo $((s[13] + s[14]))
}
machine_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, t - $5 - $6 }' /proc/stat
}
NCPU=$(nproc)

# Other work on the machine skews every figure: say so up front.
read -r t0 b0 < <(machine_ticks)
sleep 1
read -r t1 b1 < <(machine_ticks)
IDLE_BUSY=$((100 * (b1 - b0) / (t1 - t0 > 0 ? t1 - t0 : 1)))
warn=""
[ "$IDLE_BUSY" -le 10 ] || warn=" -- WARNING: other work is running; figures will be low"
echo "# machine busy before the runs: ${IDLE_BUSY}% of $NCPU cores$warn"

# run_wrk TARGET SECONDS FILE START [EXTRA...]: one wrk run; sets R_* from its RESULT line, and
# R_server_cpu, R_wrk_cpu and R_other_cpu (the target's, wrk's and everything else's CPU over the
# run, each in % of one core).
run_wrk() {
	local t=$1 secs=$2 file=$3 start=$4 url pid
	shift 4
	url=$GANTRY_URL pid=$GANTRY_PID
	[ "$t" = moto ] && url=$MOTO_URL pid=$MOTO_PID
	local p0 p1 t0 t1 b0 b1 c0 c1
	p0=$(proc_ticks "$pid")
	read -r t0 b0 < <(machine_ticks)
	local extra=()
	for f in "$@"; do extra+=("$TMP/$t/$f.req"); done
	local line
	c0=$(child_ticks)
	local check=
	[ "$file" = run-task ] && check=runtask
	line=$(BENCH_CHECK=$check wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --timeout 5s -s "$HERE/load.lua" "$url/" -- \
		"$TMP/$t/$file.req" "$start" "$THREADS" "${extra[@]}" | grep '^RESULT ') ||
		die "wrk failed against $t"
	c1=$(child_ticks)
	p1=$(proc_ticks "$pid")
	read -r t1 b1 < <(machine_ticks)
	# All in % of one core over the same window (/proc/stat counts ticks of every core). "Other"
	# is what neither used: near 0 on a quiet machine; much more means another program was
	# competing for the cores.
	local window=$(((t1 - t0) / NCPU))
	[ "$window" -gt 0 ] || window=1
	R_server_cpu=$((100 * (p1 - p0) / window))
	R_wrk_cpu=$((100 * (c1 - c0) / window))
	R_other_cpu=$((100 * (b1 - b0 - (p1 - p0) - (c1 - c0)) / window))
	# The kernel's per-process and per-core accounts disagree by some ticks: about ±10 %.
	[ "$R_other_cpu" -ge 0 ] || R_other_cpu=0
	R_requests=0 R_duration_us=1 R_non2xx=0 R_connect=0 R_read=0 R_write=0 R_timeout=0
	R_p50_us=0 R_p99_us=0 R_next=0 R_wrapped=0 R_invalid=0
	local kv
	for kv in ${line#RESULT }; do
		printf -v "R_${kv%%=*}" '%s' "${kv#*=}"
	done
}

# Workloads: name, request file, extra files (the mix interleaves fresh creates with the others).
WORKLOADS=(
	"CreateCluster|create-cluster|"
	"DescribeClusters|describe-clusters|"
	"RegisterTaskDefinition|register-td|"
	"DescribeTaskDefinition|describe-td|"
	"mix (4 ops, equal shares)|mix-create|describe-clusters register-td describe-td"
	"RunTask|run-task|"
	"DescribeTasks|describe-tasks|"
)
declare -A NEXT=()
invalid=0
noisy=0
results=()
for w in "${WORKLOADS[@]}"; do
	IFS='|' read -r name file extra <<<"$w"
	[[ "$name" =~ $ONLY ]] || continue
	for t in gantry moto; do
		key=$t/$file
		# shellcheck disable=SC2086 # $extra is a list of words
		run_wrk "$t" "$WARMUP" "$file" "${NEXT[$key]:-0}" $extra
		NEXT[$key]=$R_next
		warm_wrapped=$R_wrapped
		# shellcheck disable=SC2086
		run_wrk "$t" "$DURATION" "$file" "${NEXT[$key]}" $extra
		NEXT[$key]=$R_next
		rps=$(awk -v n="$R_requests" -v us="$R_duration_us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
		printf -v "RPS_$t" '%s' "$rps"
		errs=$((R_non2xx + R_connect + R_read + R_write + R_timeout))
		note=""
		if [ "$errs" -gt 0 ]; then
			note="  INVALID: $R_non2xx non-2xx;"
			note="$note $R_connect/$R_read/$R_write/$R_timeout connect/read/write/timeout errors"
			invalid=1
		fi
		if [ "$R_wrapped" -gt 0 ] || [ "$warm_wrapped" -gt 0 ]; then
			note="$note  INVALID: ran out of fresh CreateCluster names (raise BENCH_CREATES)"
			invalid=1
		fi
		if [ "$R_invalid" -gt 0 ]; then
			note="$note  INVALID: $R_invalid RunTask answers placed no task"
			invalid=1
		fi
		[ "$R_requests" -gt 0 ] || { note="$note  INVALID: no answers"; invalid=1; }
		if [ "$R_other_cpu" -gt "$NOISY" ]; then
			note="$note  NOISY: other programs used ${R_other_cpu}% of a core"
			noisy=1
		fi
		printf '# %-26s %-6s %7s req/s  p50 %6.1f ms  p99 %6.1f ms' "$name" "$t" "$rps" \
			"$(awk -v u="$R_p50_us" 'BEGIN { print u / 1000 }')" \
			"$(awk -v u="$R_p99_us" 'BEGIN { print u / 1000 }')"
		printf '  cpu: server %3d%% wrk %3d%% other %3d%%%s\n' "$R_server_cpu" "$R_wrk_cpu" "$R_other_cpu" \
			"$note"
	done
	kill -0 "$GANTRY_PID" 2>/dev/null || { cat "$TMP/gantry.log" >&2; die "gantry died"; }
	kill -0 "$MOTO_PID" 2>/dev/null || die "moto_server died"
	results+=("$name|$RPS_gantry|$RPS_moto")
done

echo
printf '| %-26s | %12s | %10s | %8s |\n' "operation" "gantry req/s" "moto req/s" "ratio"
printf '| %-26s | %12s | %10s | %8s |\n' "---" "---:" "---:" "---:"
missed=()
for r in "${results[@]}"; do
	IFS='|' read -r name g m <<<"$r"
	ratio=$(awk -v g="$g" -v m="$m" 'BEGIN { if (m > 0) printf "%.1f", g / m; else print "inf" }')
	printf '| %-26s | %12s | %10s | %7s× |\n' "$name" "$g" "$m" "$ratio"
	awk -v r="$ratio" -v goal="$GOAL" 'BEGIN { exit !(r != "inf" && r + 0 < goal) }' && missed+=("$name")
done
echo
if [ ${#missed[@]} -eq 0 ]; then
	echo "goal gantry >= ${GOAL}x moto: met for every operation and the mix"
else
	list=$(printf '%s, ' "${missed[@]}")
	echo "goal gantry >= ${GOAL}x moto: NOT met for: ${list%, }"
fi
if [ "$noisy" -ne 0 ]; then
	echo "bench/api: other programs competed for the CPU during some runs (see NOISY above);" \
		"rerun on a quiet machine" >&2
fi
if [ "$invalid" -ne 0 ]; then
	echo "bench/api: some runs were invalid (see INVALID above); their figures mean nothing" >&2
	exit 1
fi
