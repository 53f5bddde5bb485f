# shellcheck shell=bash
# Shared helpers for the end-to-end shell tests: start a gantry server on a free port with its
# own state directory and credentials, point the AWS CLIs at it, and report results as TAP.
# Source it from a test script; it cleans up (by PID) on exit.
set -u
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/san/gantry}
TMP=$(mktemp -d /tmp/gantry-e2e.XXXXXX)
SERVER_PID=
SERVER_RC=
EXTRA_PIDS=() # other processes a test started (gantry dev, load generators): killed on exit
T_N=0
T_FAILED=0

# Two accounts, so isolation can be checked; A is the default identity.
ACCT_A=111111111111
ACCT_B=222222222222
KEY_A=GKIATESTACCOUNTAAAAA
SECRET_A=secretA/0123456789abcdefghijklmnopqrstuv
KEY_B=GKIATESTACCOUNTBBBBB
SECRET_B=secretB/0123456789abcdefghijklmnopqrstuv

# The AWS CLI v1 is the machine's `aws` (pyenv); v2 is Debian's /usr/bin/aws.
AWS1=$(command -v aws || true)
AWS2=/usr/bin/aws

cleanup() {
	local p
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	for p in "${EXTRA_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "${GANTRY_E2E_KEEP:-}" ]; then echo "# kept $TMP (GANTRY_E2E_KEEP)" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# start_server [extra args...]: starts gantry server with state in $TMP/data; sets ENDPOINT.
start_server() {
	mkdir -p "$TMP/data"
	if [ ! -e "$TMP/credentials" ]; then
		printf '%s %s %s\n%s %s %s\n' "$KEY_A" "$SECRET_A" "$ACCT_A" "$KEY_B" "$SECRET_B" "$ACCT_B" \
			>"$TMP/credentials"
	fi
	rm -f "$TMP/ready"
	"$GANTRY_BIN" server --listen 127.0.0.1:${PORT:-0} --data "$TMP/data" --credentials "$TMP/credentials" \
		--ready-file "$TMP/ready" "$@" >>"$TMP/server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 1 200); do
		[ -s "$TMP/ready" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$TMP/ready" ]; then
		echo "# server did not start:"; sed 's/^/# /' "$TMP/server.log"
		echo "Bail out! server did not start"
		exit 1
	fi
	ENDPOINT=$(cat "$TMP/ready")
	PORT=${ENDPOINT##*:}
	export AWS_ACCESS_KEY_ID=$KEY_A AWS_SECRET_ACCESS_KEY=$SECRET_A AWS_DEFAULT_REGION=us-east-1
	export AWS_ENDPOINT_URL=$ENDPOINT AWS_PAGER="" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	unset AWS_PROFILE AWS_SESSION_TOKEN
}

# stop_server [signal]: stops the server (default SIGTERM) and waits for it; SERVER_RC = its status.
stop_server() {
	local sig=${1:-TERM}
	if [ -n "$SERVER_PID" ]; then
		kill -"$sig" "$SERVER_PID" 2>/dev/null
		# A server that ignores the signal is a failure, not a hung suite: 30 s, then SIGKILL.
		for _ in $(seq 1 300); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$SERVER_PID" 2>/dev/null && { echo "# server ignored SIG$sig for 30 s: killed"; kill -9 "$SERVER_PID"; }
		wait "$SERVER_PID" 2>/dev/null
		SERVER_RC=$?
		SERVER_PID=
	fi
}

# aws1 / aws2: the two CLIs against the server (v2 2.9 predates AWS_ENDPOINT_URL).
aws1() { "$AWS1" --endpoint-url "$ENDPOINT" --output json "$@"; }
aws2() { "$AWS2" --endpoint-url "$ENDPOINT" --output json "$@"; }
have_aws2() { [ -x "$AWS2" ]; }

# ok DESC CMD...: passes when CMD exits 0. Output goes to $TMP/out and $TMP/err.
ok() {
	local desc=$1; shift
	T_N=$((T_N + 1))
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"; T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$TMP/err" | head -20
	fi
}

# fails_with DESC EXCEPTION CMD...: passes when CMD fails and its stderr names EXCEPTION.
fails_with() {
	local desc=$1 exc=$2; shift 2
	T_N=$((T_N + 1))
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		echo "not ok $T_N - $desc (succeeded, expected $exc)"; T_FAILED=$((T_FAILED + 1))
	elif grep -q "$exc" "$TMP/err"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc (expected $exc)"; T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$TMP/err" | head -20
	fi
}

# fails_like DESC EXCEPTION REGEX CMD...: like fails_with, and stderr (the CLI's error message)
# must also match the extended regular expression REGEX (e.g. the member or container it names).
fails_like() {
	local desc=$1 exc=$2 re=$3; shift 3
	T_N=$((T_N + 1))
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		echo "not ok $T_N - $desc (succeeded, expected $exc)"; T_FAILED=$((T_FAILED + 1))
	elif grep -q "($exc)" "$TMP/err" && grep -qE -- "$re" "$TMP/err"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc (expected $exc matching /$re/)"; T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$TMP/err" | head -20
	fi
}

# check DESC CONDITION-CMD...: passes when the command (a test of earlier output) succeeds.
check() {
	local desc=$1; shift
	T_N=$((T_N + 1))
	if "$@"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"; T_FAILED=$((T_FAILED + 1))
	fi
}

# e2epy ARGS...: python3 with tests/e2e on the module path (e2elib.py, rawreq.py).
e2epy() { PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$E2E_DIR${PYTHONPATH:+:$PYTHONPATH}" python3 "$@"; }

# jq-free JSON checks: jget FILE PYEXPR prints the value of a Python expression over `d`.
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# jtrue FILE PYEXPR: succeeds when the expression is truthy.
jtrue() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }

# jcheck DESC FILE PYEXPR: a test that passes when the expression over FILE's JSON is truthy; on
# failure it shows the start of the file.
jcheck() {
	local desc=$1 file=$2 expr=$3
	T_N=$((T_N + 1))
	if jtrue "$file" "$expr" 2>"$TMP/jerr"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"; T_FAILED=$((T_FAILED + 1))
		echo "#   expected: $expr"
		{ head -c 1500 "$file"; echo; cat "$TMP/jerr"; } | sed 's/^/#   /' | head -40
	fi
}

# diag TEXT...: a TAP comment.
diag() { echo "# $*"; }

# The sanitizers report to the server's stderr; any report is a failure even if the call that
# triggered it looked fine.
no_sanitizer_report() {
	[ ! -e "$TMP/server.log" ] && return 0
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: ' "$TMP/server.log"; then
		grep -E -A15 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP/server.log" | head -40 | sed 's/^/#   /'
		return 1
	fi
}

# done_testing: stops a running server with SIGTERM (a clean shutdown must exit 0: that is also
# where LeakSanitizer reports), checks the log for sanitizer reports, prints the plan.
done_testing() {
	if [ -n "$SERVER_PID" ]; then
		stop_server TERM
		check "server shuts down cleanly on SIGTERM (exit $SERVER_RC)" test "$SERVER_RC" -eq 0
	fi
	check "no sanitizer report in the server log" no_sanitizer_report
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
