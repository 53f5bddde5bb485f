#!/bin/bash
# `gantry dev`: creates DIR/credentials on the first start, prints the export lines that point the AWS
# CLI at it (and nothing else but comments), those exports make `aws ecs ...` work, a second start
# reuses the credential and the state, a second server on the same state directory is refused, and
# without --data the state goes to ./gantry-data. The agent dev starts beside the server is t91's
# subject: --agent none here.
source "$(dirname "$0")/lib.sh"

# The CLI honours AWS_ENDPOINT_URL from v1.29 / v2.13 on; older ones (Debian 12's 2.9) need the
# printed URL passed as --endpoint-url.
cli_reads_endpoint_env() {
	local v
	v=$("$AWS1" --version 2>&1 | sed -n 's|^aws-cli/\([0-9]*\)\.\([0-9]*\)\..*|\1 \2|p')
	set -- $v
	[ $# -eq 2 ] || return 1
	case $1 in
	1) [ "$2" -ge 29 ] ;;
	2) [ "$2" -ge 13 ] ;;
	*) [ "$1" -gt 2 ] ;;
	esac
}
free_port() { e2epy -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

DEV_PID=
# start_dev NAME CWD ARGS...: starts `gantry dev ARGS` in CWD; stdout in $TMP/NAME.out; waits for
# the ready file $TMP/NAME.ready (pass --ready-file "$TMP/NAME.ready" in ARGS).
start_dev() {
	local name=$1 cwd=$2; shift 2
	rm -f "$TMP/$name.ready"
	(cd "$cwd" && exec "$GANTRY_BIN" dev --agent none "$@") >"$TMP/$name.out" 2>>"$TMP/server.log" &
	DEV_PID=$!
	EXTRA_PIDS+=("$DEV_PID")
	for _ in $(seq 1 200); do
		[ -s "$TMP/$name.ready" ] && return 0
		kill -0 "$DEV_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
stop_dev() { # stops $DEV_PID with SIGTERM; DEV_RC = its exit status
	kill -TERM "$DEV_PID" 2>/dev/null
	wait "$DEV_PID" 2>/dev/null
	DEV_RC=$?
	DEV_PID=
}
# with_exports NAME CMD...: runs CMD in a clean environment plus the export lines dev printed.
with_exports() {
	local name=$1; shift
	(
		unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_REGION AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN
		export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=""
		eval "$(cat "$TMP/$name.out")" || exit 99
		"$@"
	)
}
aws_from_env() { # the AWS CLI as a user with the exports would run it
	if cli_reads_endpoint_env; then "$AWS1" --output json "$@"
	else "$AWS1" --endpoint-url "$AWS_ENDPOINT_URL" --output json "$@"; fi
}

mkdir -p "$TMP/cwd1" "$TMP/cwd2"
STATE="$TMP/cwd1/state"

# --- first start, on port 0 ---
ok "gantry dev --listen 127.0.0.1:0 --data DIR starts" start_dev dev0 "$TMP/cwd1" \
	--listen 127.0.0.1:0 --data "$STATE" --ready-file "$TMP/dev0.ready"
check "it created DIR/credentials" test -s "$STATE/credentials"
check "... readable by its owner only (mode 600)" test "$(stat -c %a "$STATE/credentials" 2>/dev/null)" = 600
check "... with one credential, for account 000000000000" \
	test "$(grep -v '^#' "$STATE/credentials" | awk 'NF == 3 && $3 == "000000000000"' | wc -l)" = 1
check_exports() { # name: the output is comments and exactly the four export lines, in order
	e2epy - "$TMP/$1.out" "$STATE/credentials" <<'EOF'
import re, sys
out = open(sys.argv[1]).read().splitlines()
cred = [l.split() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")][0]
lines = [l for l in out if l.strip() and not l.startswith("#")]
want = [r"export AWS_ACCESS_KEY_ID=%s" % re.escape(cred[0]),
        r"export AWS_SECRET_ACCESS_KEY=%s" % re.escape(cred[1]),
        r"export AWS_DEFAULT_REGION=us-east-1",
        r"export AWS_ENDPOINT_URL=http://127\.0\.0\.1:\d+"]
ok = len(lines) == 4 and all(re.fullmatch(w, l) for w, l in zip(want, lines))
if not ok:
    print("\n".join("#   " + l for l in out))
sys.exit(0 if ok else 1)
EOF
}
check "it printed exactly the four export lines, with the credential from the file" check_exports dev0
printed=$(sed -n 's/^export AWS_ENDPOINT_URL=//p' "$TMP/dev0.out")
ready=$(cat "$TMP/dev0.ready" 2>/dev/null)
check "the printed AWS_ENDPOINT_URL is the URL it really serves on ($printed vs $ready)" test "$printed" = "$ready"
stop_dev
check "SIGTERM stops it with exit 0 (exit $DEV_RC)" test "$DEV_RC" = 0

# --- on a known port: the exports work as printed ---
port=$(free_port)
ok "gantry dev on port $port with the same state directory" start_dev dev1 "$TMP/cwd1" \
	--listen 127.0.0.1:$port --data "$STATE" --ready-file "$TMP/dev1.ready"
check "it printed the four export lines again" check_exports dev1
check "... naming port $port" grep -qx "export AWS_ENDPOINT_URL=http://127.0.0.1:$port" "$TMP/dev1.out"
check "... and the same credential as the first start" \
	test "$(grep -E 'KEY_ID|SECRET' "$TMP/dev0.out")" = "$(grep -E 'KEY_ID|SECRET' "$TMP/dev1.out")"
check "the credentials file still holds one credential" test "$(grep -vc '^#' "$STATE/credentials")" = 1
ok "with the exports evaluated, aws ecs create-cluster works" with_exports dev1 aws_from_env ecs create-cluster --cluster-name devc
jcheck "... in account 000000000000" "$TMP/out" \
	"d['cluster']['clusterArn'] == 'arn:aws:ecs:us-east-1:000000000000:cluster/devc'"
ok "with the exports evaluated, aws ecs list-clusters works" with_exports dev1 aws_from_env ecs list-clusters
jcheck "... and lists it" "$TMP/out" "d['clusterArns'] == ['arn:aws:ecs:us-east-1:000000000000:cluster/devc']"
fails_with "without the exports the request is refused (the test accounts are not dev's)" UnrecognizedClientException \
	env AWS_ACCESS_KEY_ID=$KEY_A AWS_SECRET_ACCESS_KEY=$SECRET_A AWS_DEFAULT_REGION=us-east-1 \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
	"$AWS1" --endpoint-url "http://127.0.0.1:$port" ecs list-clusters

# --- a second server on the same state directory ---
T_N=$((T_N + 1))
second_rc=0
(cd "$TMP/cwd2" && timeout 20 "$GANTRY_BIN" dev --agent none --listen 127.0.0.1:0 --data "$STATE" \
	--ready-file "$TMP/dev2.ready") >"$TMP/dev2.out" 2>"$TMP/dev2.err" || second_rc=$?
if [ "$second_rc" -ne 0 ] && [ "$second_rc" -ne 124 ] && [ ! -e "$TMP/dev2.ready" ]; then
	echo "ok $T_N - a second gantry dev on the same state directory is refused (exit $second_rc)"
else
	echo "not ok $T_N - a second gantry dev on the same state directory is refused (exit $second_rc)"
	T_FAILED=$((T_FAILED + 1))
fi
check "... saying the directory is in use" grep -qi "in use" "$TMP/dev2.err"
T_N=$((T_N + 1))
srv_rc=0
timeout 20 "$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$STATE" --ready-file "$TMP/srv2.ready" \
	>/dev/null 2>"$TMP/srv2.err" || srv_rc=$?
if [ "$srv_rc" -ne 0 ] && [ "$srv_rc" -ne 124 ] && [ ! -e "$TMP/srv2.ready" ]; then
	echo "ok $T_N - a gantry server on dev's state directory is refused too (exit $srv_rc)"
else
	echo "not ok $T_N - a gantry server on dev's state directory is refused too (exit $srv_rc)"
	T_FAILED=$((T_FAILED + 1))
fi
ok "the first one is still serving" with_exports dev1 aws_from_env ecs describe-clusters --clusters devc
jcheck "... with its state intact" "$TMP/out" "[c['status'] for c in d['clusters']] == ['ACTIVE']"
stop_dev
check "SIGTERM stops it with exit 0 (exit $DEV_RC)" test "$DEV_RC" = 0

# --- after a kill -9 the lock goes with the process ---
port=$(free_port)
ok "gantry dev starts again" start_dev dev3 "$TMP/cwd1" --listen 127.0.0.1:$port --data "$STATE" --ready-file "$TMP/dev3.ready"
kill -9 "$DEV_PID"; wait "$DEV_PID" 2>/dev/null
ok "after a kill -9, gantry dev starts on the same state directory" start_dev dev4 "$TMP/cwd1" \
	--listen 127.0.0.1:$port --data "$STATE" --ready-file "$TMP/dev4.ready"
ok "... the cluster is still there" with_exports dev4 aws_from_env ecs list-clusters
jcheck "... listed" "$TMP/out" "d['clusterArns'] == ['arn:aws:ecs:us-east-1:000000000000:cluster/devc']"
stop_dev

# --- without --data: ./gantry-data ---
ok "gantry dev without --data starts (in an empty directory)" start_dev dev5 "$TMP/cwd2" \
	--listen 127.0.0.1:0 --ready-file "$TMP/dev5.ready"
check "... and keeps its state in ./gantry-data" test -s "$TMP/cwd2/gantry-data/credentials"
check "... with a new credential of its own" \
	test "$(grep -v '^#' "$TMP/cwd2/gantry-data/credentials" | awk '{print $1}')" != "$(grep -v '^#' "$STATE/credentials" | awk '{print $1}')"
stop_dev
check "SIGTERM stops it with exit 0 (exit $DEV_RC)" test "$DEV_RC" = 0

done_testing
