#!/bin/bash
# kill -9 + restart: concurrent boto3 clients stream mutations (clusters, task definitions, tags,
# deletes, account settings) and record every acknowledged one; the server is SIGKILLed at a random
# moment mid-stream and restarted on the same state directory. Every acknowledged change must be
# there, and the raw answers about a fixed set of resources must be byte-identical before the kill
# and after the restart. Three rounds; then an idle kill -9 and a SIGTERM restart must each give back
# byte-identical answers for everything, and SIGTERM must exit 0.
source "$(dirname "$0")/lib.sh"
start_server
DUR="$E2E_DIR/durability.py"
mkdir -p "$TMP/logs"

# same DESC A B: passes when the two snapshot files are byte-identical; shows a diff otherwise.
same() {
	local desc=$1 a=$2 b=$3
	T_N=$((T_N + 1))
	if [ -s "$a" ] && cmp -s "$a" "$b"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"; T_FAILED=$((T_FAILED + 1))
		diff -u "$a" "$b" 2>&1 | head -30 | sed 's/^/#   /'
	fi
}

# wait_gone PID SECONDS: waits for a process this script started; fails if it is still running.
wait_gone() {
	local pid=$1
	for _ in $(seq 1 $(($2 * 10))); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	return 1
}

ok "fixed resources set up (clusters, a deleted one, task definition revisions, tags, settings)" \
	e2epy "$DUR" setup "$ENDPOINT"
ok "snapshot of the fixed resources' answers" e2epy "$DUR" snapshot "$ENDPOINT" "$TMP/fixed-0.json" fixed

for round in 1 2 3; do
	# Started directly (not through the e2epy function) so that $! is the Python process itself.
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$E2E_DIR" python3 "$DUR" stream "$ENDPOINT" "$TMP/logs" "$round" 4 >"$TMP/stream.log" 2>&1 &
	spid=$!
	EXTRA_PIDS+=("$spid")
	# A random moment: 0.3 to 1.5 s into the stream (the snapshot below takes a little more).
	sleep "$(e2epy -c 'import random; print(round(random.uniform(0.3, 1.5), 2))')"
	ok "round $round: snapshot of the fixed resources mid-stream" \
		e2epy "$DUR" snapshot "$ENDPOINT" "$TMP/fixed-mid$round.json" fixed
	check "round $round: the stream is still running when the server is killed" kill -0 "$spid"
	kill -9 "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
	check "round $round: every client stops once the server is gone" wait_gone "$spid" 30
	acks=$(cat "$TMP"/logs/r$round-*.log 2>/dev/null | grep -c '"kind": "ack"')
	diag "round $round: $acks mutations acknowledged before the kill"
	start_server
	ok "round $round: restarted on the same state directory" aws1 ecs list-clusters
	T_N=$((T_N + 1))
	if e2epy "$DUR" verify "$ENDPOINT" "$TMP/logs" "$round" >"$TMP/verify.log" 2>&1; then
		echo "ok $T_N - round $round: every acknowledged mutation survived the kill"; cat "$TMP/verify.log"
	else
		echo "not ok $T_N - round $round: every acknowledged mutation survived the kill"; T_FAILED=$((T_FAILED + 1))
		sed 's/^#*/#/' "$TMP/verify.log" | head -30
	fi
	ok "round $round: snapshot of the fixed resources after the restart" \
		e2epy "$DUR" snapshot "$ENDPOINT" "$TMP/fixed-after$round.json" fixed
	same "round $round: fixed answers byte-identical: before the stream vs mid-stream" "$TMP/fixed-0.json" "$TMP/fixed-mid$round.json"
	same "round $round: fixed answers byte-identical: before the kill vs after the restart" "$TMP/fixed-mid$round.json" "$TMP/fixed-after$round.json"
done

# Everything, idle: kill -9 and SIGTERM must both give back exactly the same answers.
ok "snapshot of every resource's answers" e2epy "$DUR" snapshot "$ENDPOINT" "$TMP/all-1.json" all
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
start_server
ok "snapshot of everything after an idle kill -9 and restart" e2epy "$DUR" snapshot "$ENDPOINT" "$TMP/all-2.json" all
same "every answer byte-identical across the kill -9" "$TMP/all-1.json" "$TMP/all-2.json"
stop_server TERM
check "SIGTERM: the server exits 0 (exit $SERVER_RC)" test "$SERVER_RC" = 0
start_server
ok "snapshot of everything after the SIGTERM restart" e2epy "$DUR" snapshot "$ENDPOINT" "$TMP/all-3.json" all
same "every answer byte-identical across the SIGTERM restart" "$TMP/all-1.json" "$TMP/all-3.json"
ok "the server accepts new work after all the restarts" aws1 ecs create-cluster --cluster-name after-all
jcheck "... and answers it" "$TMP/out" "d['cluster']['status'] == 'ACTIVE'"

done_testing
