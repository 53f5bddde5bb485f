#!/bin/bash
# CloudWatch Logs through both AWS CLIs: groups and streams, PutLogEvents (10,000 events in one
# batch, CloudWatch's rules and rejectedLogEventsInfo, a batch at the 1,048,576-byte limit whose JSON
# is over 4 MiB, the request-body bounds), GetLogEvents paging forward and backward,
# FilterLogEvents with each pattern kind, retention, tags, `aws logs tail`, durability across a
# clean restart and a kill -9, and account isolation.
source "$(dirname "$0")/lib.sh"
start_server
G=/e2e/app
NOW=$(($(date +%s) * 1000))

# --- groups and streams ---
ok "v1 create-log-group with tags" aws1 logs create-log-group --log-group-name $G --tags team=web,env=dev
fails_like "a second create-log-group" ResourceAlreadyExistsException "already exists" \
	aws1 logs create-log-group --log-group-name $G
fails_with "a bad group name" InvalidParameterException aws2 logs create-log-group --log-group-name 'bad name!'
ok "v2 create-log-group" aws2 logs create-log-group --log-group-name /e2e/other
ok "describe-log-groups --log-group-name-prefix" aws1 logs describe-log-groups --log-group-name-prefix /e2e/a
check "the prefix selects one group with arn and logGroupArn" jtrue "$TMP/out" \
	"[g['logGroupName'] for g in d['logGroups']] == ['$G'] and d['logGroups'][0]['arn'].endswith(':log-group:$G:*') and d['logGroups'][0]['logGroupArn'] == 'arn:aws:logs:us-east-1:$ACCT_A:log-group:$G' and d['logGroups'][0]['metricFilterCount'] == 0"
ok "describe-log-groups pages with --page-size 1 (v1 follows nextToken)" aws1 logs describe-log-groups --page-size 1
check "both groups listed in name order" jtrue "$TMP/out" "[g['logGroupName'] for g in d['logGroups']] == ['/e2e/app', '/e2e/other']"
ok "describe-log-groups --log-group-name-pattern" aws1 logs describe-log-groups --log-group-name-pattern oth
check "the pattern is a substring match" jtrue "$TMP/out" "[g['logGroupName'] for g in d['logGroups']] == ['/e2e/other']"
fails_like "create-log-stream in a missing group" ResourceNotFoundException "The specified log group does not exist" \
	aws1 logs create-log-stream --log-group-name /e2e/none --log-stream-name s
for s in web-1 web-2 db-1; do
	ok "create-log-stream $s" aws1 logs create-log-stream --log-group-name $G --log-stream-name $s
done
fails_with "a second create-log-stream" ResourceAlreadyExistsException \
	aws2 logs create-log-stream --log-group-name $G --log-stream-name web-1
fails_with "a stream name with ':'" InvalidParameterException \
	aws2 logs create-log-stream --log-group-name $G --log-stream-name 'a:b'
ok "create and delete a stream" aws2 logs create-log-stream --log-group-name $G --log-stream-name tmp
ok "delete-log-stream" aws2 logs delete-log-stream --log-group-name $G --log-stream-name tmp
fails_like "put to a missing stream" ResourceNotFoundException "log stream does not exist" \
	aws1 logs put-log-events --log-group-name $G --log-stream-name tmp --log-events timestamp=$NOW,message=x

# --- 10,000 events in one batch, read back whole with both CLIs ---
python3 - "$TMP/big.json" "$NOW" <<'EOF'
import json, sys
now = int(sys.argv[2])
json.dump([{"timestamp": now - 600000 + i, "message": "event %05d" % i} for i in range(10000)], open(sys.argv[1], "w"))
EOF
ok "put-log-events with 10,000 events" aws1 logs put-log-events --log-group-name $G --log-stream-name web-1 \
	--log-events "file://$TMP/big.json"
check "no events rejected, a nextSequenceToken" jtrue "$TMP/out" "'rejectedLogEventsInfo' not in d and d['nextSequenceToken']"
# forward: v1, pages of 3000 from the head until the token repeats
readall() { # cli direction -> prints the messages in the order read, one page per call
	local cli=$1 dir=$2 tok="" pages=0
	: >"$TMP/all.txt"
	while :; do
		if [ "$dir" = f ]; then
			$cli logs get-log-events --log-group-name $G --log-stream-name web-1 --limit 3000 --start-from-head \
				${tok:+--next-token "$tok"} >"$TMP/page.json" || return 1
			next=$(jget "$TMP/page.json" "d['nextForwardToken']")
			jget "$TMP/page.json" "'\n'.join(e['message'] for e in d['events'])" | sed '/^$/d' >>"$TMP/all.txt"
		else
			$cli logs get-log-events --log-group-name $G --log-stream-name web-1 --limit 3000 \
				${tok:+--next-token "$tok"} >"$TMP/page.json" || return 1
			next=$(jget "$TMP/page.json" "d['nextBackwardToken']")
			{ jget "$TMP/page.json" "'\n'.join(e['message'] for e in d['events'])" | sed '/^$/d'; cat "$TMP/all.txt"; } >"$TMP/all2.txt"
			mv "$TMP/all2.txt" "$TMP/all.txt"
		fi
		pages=$((pages + 1))
		[ "$next" = "$tok" ] && break
		tok=$next
		[ $pages -gt 20 ] && return 1
	done
	echo "$pages" >"$TMP/pages"
}
expect_all() { python3 -c "
import sys
got = open(sys.argv[1]).read().split('\n')[:-1]
sys.exit(0 if got == ['event %05d' % i for i in range(10000)] else 1)" "$TMP/all.txt"; }
ok "v1 get-log-events pages forward until the token repeats" readall aws1 f
check "forward: all 10,000 events once, in order, in 4 pages + the repeat" \
	bash -c "$(declare -f expect_all); TMP=$TMP; expect_all && [ \$(cat $TMP/pages) -eq 5 ]"
ok "v2 get-log-events pages backward until the token repeats" readall aws2 b
check "backward: all 10,000 events once, in order" bash -c "$(declare -f expect_all); TMP=$TMP; expect_all"
ok "get-log-events without startFromHead returns the tail" \
	aws2 logs get-log-events --log-group-name $G --log-stream-name web-1 --limit 2
check "the last two events" jtrue "$TMP/out" "[e['message'] for e in d['events']] == ['event 09998', 'event 09999']"
ok "get-log-events with a time range" aws1 logs get-log-events --log-group-name $G --log-stream-name web-1 \
	--start-time $((NOW - 600000 + 100)) --end-time $((NOW - 600000 + 110)) --start-from-head
check "the range is [start, end)" jtrue "$TMP/out" "[e['message'] for e in d['events']] == ['event %05d' % i for i in range(100, 110)]"
fails_with "a nextToken that is not ours" InvalidParameterException \
	aws1 logs get-log-events --log-group-name $G --log-stream-name web-1 --next-token bogus
ok "describe-log-streams" aws1 logs describe-log-streams --log-group-name $G
check "stream fields (first/last event, ingestion, storedBytes) and name order" jtrue "$TMP/out" \
	"[s['logStreamName'] for s in d['logStreams']] == ['db-1', 'web-1', 'web-2'] and d['logStreams'][1]['firstEventTimestamp'] == $NOW - 600000 and d['logStreams'][1]['lastEventTimestamp'] == $NOW - 600000 + 9999 and d['logStreams'][1]['lastIngestionTime'] >= $NOW - 5000 and d['logStreams'][1]['storedBytes'] > 0 and d['logStreams'][1]['arn'].endswith(':log-group:$G:log-stream:web-1')"

# --- CloudWatch's PutLogEvents rules ---
python3 - "$TMP" "$NOW" <<'EOF'
import json, sys
d, now = sys.argv[1], int(sys.argv[2])
day = 86400000
json.dump([{"timestamp": now - 15 * day, "message": "too old"}, {"timestamp": now - 15 * day + 1, "message": "too old 2"},
	   {"timestamp": now - 1000, "message": "fine"}, {"timestamp": now + 3 * 3600000, "message": "too new"}], open(d + "/rej.json", "w"))
json.dump([{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}], open(d + "/unordered.json", "w"))
json.dump([{"timestamp": now - 2 * day, "message": "a"}, {"timestamp": now, "message": "b"}], open(d + "/span.json", "w"))
json.dump([{"timestamp": now, "message": "x" * (256 * 1024)}], open(d + "/huge.json", "w"))
EOF
ok "put-log-events with too old and too new events" aws2 logs put-log-events --log-group-name $G \
	--log-stream-name web-2 --log-events "file://$TMP/rej.json"
check "rejectedLogEventsInfo: tooOldLogEventEndIndex 1, tooNewLogEventStartIndex 3" jtrue "$TMP/out" \
	"d['rejectedLogEventsInfo'] == {'tooOldLogEventEndIndex': 1, 'tooNewLogEventStartIndex': 3}"
ok "get-log-events web-2" aws2 logs get-log-events --log-group-name $G --log-stream-name web-2
check "only the valid event was stored" jtrue "$TMP/out" "[e['message'] for e in d['events']] == ['fine']"
fails_like "events out of order" InvalidParameterException "chronological order" \
	aws1 logs put-log-events --log-group-name $G --log-stream-name web-2 --log-events "file://$TMP/unordered.json"
fails_like "a batch spanning more than 24 hours" InvalidParameterException "24 hours" \
	aws1 logs put-log-events --log-group-name $G --log-stream-name web-2 --log-events "file://$TMP/span.json"
fails_with "an event over 256 KiB" InvalidParameterException \
	aws1 logs put-log-events --log-group-name $G --log-stream-name web-2 --log-events "file://$TMP/huge.json"
ok "a sequence token is accepted and ignored" aws1 logs put-log-events --log-group-name $G --log-stream-name web-2 \
	--sequence-token 12345 --log-events timestamp=$NOW,message=seqtok

# --- batches at CloudWatch's size limit, whose JSON is far over 1 MiB ---
# CloudWatch counts a batch as its messages' UTF-8 bytes plus 26 per event (at most 1,048,576); the
# JSON that carries it is up to 6 times that (a control character is written "\u0001"), so the
# server takes PutLogEvents bodies up to LOGS_PUT_BODY_MAX (src/logs/logs.h), and every other call
# still only 1 MiB.
BG=/e2e/big
PUT_BODY_MAX=6996992
ok "create a group for the big batches" aws1 logs create-log-group --log-group-name $BG
ok "and a stream" aws1 logs create-log-stream --log-group-name $BG --log-stream-name big
python3 - "$TMP" "$NOW" <<'EOF'
import json, sys
d, now = sys.argv[1], int(sys.argv[2])
LIMIT, OVERHEAD, N = 1048576, 26, 100
total = LIMIT - OVERHEAD * N  # bytes of messages that make the batch exactly 1,048,576
# Mostly control characters (6 bytes each in JSON), with the other escapes and 2-, 3- and 4-byte
# characters (their UTF-8 bytes are what counts).
unit = "\x01" * 38 + '"\\\u00e9\u20ac\U0001f600\x1b\n\t'
assert len(unit.encode()) == 52
def message(i, size):
    s = "event %03d " % i
    s += unit * ((size - len(s)) // 52)
    s += "\x01" * (size - len(s.encode()))
    assert len(s.encode()) == size
    return s
sizes = [total // N + (1 if i < total % N else 0) for i in range(N)]
evs = [{"timestamp": now - 60000 + i, "message": message(i, sizes[i])} for i in range(N)]
assert sum(len(e["message"].encode()) + OVERHEAD for e in evs) == LIMIT
json.dump(evs, open(d + "/atlimit.json", "w"))
evs[0]["message"] += "\x01"
json.dump(evs, open(d + "/over.json", "w"))
json.dump([{"timestamp": now - 60000 + i, "message": "e"} for i in range(10001)], open(d + "/10001.json", "w"))
EOF
ok "boto3 put_log_events: 100 events, exactly 1,048,576 bytes by CloudWatch's count, mostly control characters" \
	e2epy - "$ENDPOINT" "$BG" "$TMP/atlimit.json" <<'PY'
import json, sys, boto3
from botocore.config import Config
from e2elib import stream_messages
ep, group, path = sys.argv[1:]
evs = json.load(open(path))
logs = boto3.client("logs", endpoint_url=ep, region_name="us-east-1",
                    config=Config(retries={"max_attempts": 0}, read_timeout=120))
sent = []
logs.meta.events.register("before-send.logs.PutLogEvents", lambda request, **kw: sent.append(len(request.body)))
r = logs.put_log_events(logGroupName=group, logStreamName="big", logEvents=evs)
assert "rejectedLogEventsInfo" not in r, r
# The point of the test: the request is far over 1 MiB (botocore writes UTF-8 unescaped).
assert sent and sent[0] > 4 * 1024 * 1024, sent
print("# the request body was %d bytes" % sent[0])
msgs = stream_messages(logs, group, "big")
assert len(msgs) == len(evs), (len(msgs), len(evs))
bad = [i for i, (m, e) in enumerate(zip(msgs, evs)) if m != e["message"]]
assert not bad, "messages differ: %s" % bad[:5]
PY
grep '^# ' "$TMP/out"
fails_like "the same batch one byte over (aws v1, file://)" InvalidParameterException \
	"Upload too large: 1048577 bytes exceeds limit of 1048576" \
	aws1 logs put-log-events --log-group-name $BG --log-stream-name big --log-events "file://$TMP/over.json"
fails_like "10,001 events (aws v2)" InvalidParameterException "length between 1 and 10000" \
	aws2 logs put-log-events --log-group-name $BG --log-stream-name big --log-events "file://$TMP/10001.json"
ok "after both refusals, the stream still holds the 100 events only" \
	aws1 logs get-log-events --log-group-name $BG --log-stream-name big --start-from-head --limit 200
jcheck "... 100 events" "$TMP/out" "len(d['events']) == 100"
bodycap() { # mode -> the raw answer as JSON
	e2epy - "$ENDPOINT" "$BG" "$1" "$PUT_BODY_MAX" "$NOW" <<'EOF'
import json, sys, e2elib
ep, group, mode, cap, now = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def padded(op, obj, size):
    body = json.dumps(obj).encode()
    body = body[:-1] + b" " * (size - len(body)) + b"}"
    assert len(body) == size
    return e2elib.signed_request(ep, op, body, service="logs", target_prefix="Logs_20140328")
put = {"logGroupName": group, "logStreamName": "big", "logEvents": [{"timestamp": now, "message": mode}]}
if mode == "put-cap":
    m, p, h, b = padded("PutLogEvents", put, cap)
    r = e2elib.send_raw(ep, m, p, h, body=b, timeout=60)
elif mode == "put-over":
    m, p, h, b = padded("PutLogEvents", put, cap + 1)
    r = e2elib.send_raw(ep, m, p, h, body=b, timeout=60)
elif mode == "put-declared":
    m, p, h, b = padded("PutLogEvents", put, 1000)
    r = e2elib.send_raw(ep, m, p, h, body=b[:100], declared_length=cap + 1, timeout=10)
elif mode == "describe-over":
    m, p, h, b = padded("DescribeLogGroups", {"limit": 5}, (1 << 20) + 1)
    r = e2elib.send_raw(ep, m, p, h, body=b, timeout=30)
print(json.dumps(r))
EOF
}
ok "a signed PutLogEvents body of exactly $PUT_BODY_MAX bytes (whitespace-padded)" bodycap put-cap
jcheck "... is served" "$TMP/out" "d['status'] == 200 and d['json'].get('nextSequenceToken')"
ok "a signed PutLogEvents body of $PUT_BODY_MAX + 1 bytes" bodycap put-over
jcheck "... is refused with 413 RequestEntityTooLargeException naming the bound" "$TMP/out" \
	"d['status'] == 413 and d['json']['__type'] == 'RequestEntityTooLargeException' and '$PUT_BODY_MAX' in d['json']['message'] and d['headers'].get('x-amzn-requestid')"
ok "a PutLogEvents request declaring $PUT_BODY_MAX + 1 bytes and sending 100" bodycap put-declared
jcheck "... is refused with 413 without waiting for the body" "$TMP/out" \
	"d['status'] == 413 and d['json']['__type'] == 'RequestEntityTooLargeException' and not d['timed_out'] and d['elapsed'] < 3"
ok "a signed DescribeLogGroups body of 1 MiB + 1 byte" bodycap describe-over
jcheck "... is refused with 413: other Logs calls keep the 1 MiB bound" "$TMP/out" \
	"d['status'] == 413 and d['json']['__type'] == 'RequestEntityTooLargeException' and '1048576' in d['json']['message']"
ok "get-log-events after the raw puts (the last three events)" aws1 logs get-log-events --log-group-name $BG \
	--log-stream-name big --limit 3
jcheck "... the padded put at the bound was stored, the refused ones were not" "$TMP/out" \
	"[e['message'][:9] for e in d['events']] == ['event 098', 'event 099', 'put-cap']"

# --- FilterLogEvents, each kind of pattern, interleaved across streams ---
python3 - "$TMP/f.json" "$NOW" <<'EOF'
import json, sys
now = int(sys.argv[2])
msgs = ["ERROR disk full", "WARN low memory", "INFO all good", "ERROR Exiting now",
        '{"level":"error","latency":250,"user":{"id":7}}', '{"level":"info","latency":50,"user":{"id":8}}',
        '{"level":"warning","latency":150,"user":{"id":7}}']
json.dump([{"timestamp": now - 5000 + 2 * i, "message": m} for i, m in enumerate(msgs)], open(sys.argv[1], "w"))
EOF
ok "put the filter sample to db-1" aws1 logs put-log-events --log-group-name $G --log-stream-name db-1 --log-events "file://$TMP/f.json"
# fcheck CLI "WHERE" PATTERN PYEXPR: filter-log-events over WHERE (group and stream options) with
# the pattern; PYEXPR (over the answer, d) must hold.
fcheck() {
	local cli=$1 where=$2 pat=$3 expr=$4
	T_N=$((T_N + 1))
	# shellcheck disable=SC2086 # WHERE is options
	if $cli logs filter-log-events $where --filter-pattern "$pat" >"$TMP/fl.json" 2>"$TMP/err" &&
		jtrue "$TMP/fl.json" "$expr"; then
		echo "ok $T_N - filter-log-events ($cli) '$pat'"
	else
		echo "not ok $T_N - filter-log-events ($cli) '$pat'"; T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$TMP/err" "$TMP/fl.json" | head -20
	fi
}
fl() { # pattern expected-messages(python list) [cli]
	fcheck "${3:-aws1}" "--log-group-name $G --log-stream-names db-1" "$1" "[e['message'] for e in d['events']] == $2"
}
fl 'ERROR' "['ERROR disk full', 'ERROR Exiting now']"
fl 'ERROR disk' "['ERROR disk full']" aws2
fl '"low memory"' "['WARN low memory']"
fl '?WARN ?INFO' "['WARN low memory', 'INFO all good']" aws2
fl 'ERROR -Exiting' "['ERROR disk full']"
fl 'error' "['{\"level\":\"error\",\"latency\":250,\"user\":{\"id\":7}}']"
fl '{ $.level = "error" }' "['{\"level\":\"error\",\"latency\":250,\"user\":{\"id\":7}}']" aws2
fl '{ $.level = "warn*" }' "['{\"level\":\"warning\",\"latency\":150,\"user\":{\"id\":7}}']"
fl '{ $.latency > 100 }' "['{\"level\":\"error\",\"latency\":250,\"user\":{\"id\":7}}', '{\"level\":\"warning\",\"latency\":150,\"user\":{\"id\":7}}']"
fl '{ $.latency <= 50 || $.level = "error" }' "['{\"level\":\"error\",\"latency\":250,\"user\":{\"id\":7}}', '{\"level\":\"info\",\"latency\":50,\"user\":{\"id\":8}}']" aws2
fl '{ $.user.id = 7 && $.level != "error" }' "['{\"level\":\"warning\",\"latency\":150,\"user\":{\"id\":7}}']"
fails_with "a malformed JSON pattern" InvalidParameterException \
	aws1 logs filter-log-events --log-group-name $G --filter-pattern '{ $.level = }'
# CloudWatch's %regex% patterns: found anywhere in the message, or as a JSON string value
fl '%ERROR|WARN%' "['ERROR disk full', 'WARN low memory', 'ERROR Exiting now']"
fl '%^[EI][NR][FR]O.?.[ad]%' "['ERROR disk full', 'INFO all good']" aws2
fl '%latency.:\d{3},%' "['{\"level\":\"error\",\"latency\":250,\"user\":{\"id\":7}}', '{\"level\":\"warning\",\"latency\":150,\"user\":{\"id\":7}}']"
fl '{ $.level = %^warn|^inf% && $.latency < 100 }' "['{\"level\":\"info\",\"latency\":50,\"user\":{\"id\":8}}']" aws2
fails_like "a %regex% with parentheses is refused as CloudWatch refuses it" InvalidParameterException \
	"found '\('" aws1 logs filter-log-events --log-group-name $G --filter-pattern '%(ERROR)%'
fails_like "a %regex% that cannot compile names why" InvalidParameterException \
	"a bracket expression is not closed" aws2 logs filter-log-events --log-group-name $G --filter-pattern '%[ERROR%'
# space-delimited patterns over an access log, in a group of its own
AG=/e2e/access
ok "create a group for access logs" aws2 logs create-log-group --log-group-name $AG
ok "... and a stream" aws1 logs create-log-stream --log-group-name $AG --log-stream-name httpd
python3 - "$TMP/a.json" "$NOW" <<'EOF2'
import json, sys
now = int(sys.argv[2])
lines = ['127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
         '10.0.0.7 - - [10/Oct/2000:13:55:37 -0700] "GET /missing HTTP/1.1" 404 209',
         '10.0.0.8 - ann [10/Oct/2000:13:55:38 -0700] "POST /api/items HTTP/1.1" 503 17',
         'a line that is not an access log']
json.dump([{"timestamp": now - 4000 + i, "message": m} for i, m in enumerate(lines)], open(sys.argv[1], "w"))
EOF2
ok "put the access log" aws1 logs put-log-events --log-group-name $AG --log-stream-name httpd --log-events "file://$TMP/a.json"
fa() { # pattern expected-statuses(python list) [cli]
	fcheck "${3:-aws1}" "--log-group-name $AG" "$1" "[e['message'].split()[-2] for e in d['events']] == $2"
}
fa '[ip, user, username, timestamp, request, status_code, bytes]' "['200', '404', '503']"
fa '[ip, user, username, timestamp, request, status_code=4*, bytes]' "['404']" aws2
fa '[..., status_code>=400&&status_code<=599, bytes]' "['404', '503']"
fa '[ip, user, username!=-, ..., status_code, bytes<1000]' "['503']" aws2
fa '[ip=%^10\.%, ..., request=*POST*||status_code=404, status_code, bytes]' "['404', '503']"
fa '[ip, user, username, timestamp, request="GET /apache_pb.gif HTTP/1.0", ...]' "['200']" aws2
fails_like "a condition naming no field of the pattern" InvalidParameterException "not a field" \
	aws1 logs filter-log-events --log-group-name $AG --filter-pattern '[ip, status=1&&nope=2]'
ok "filter-log-events across streams by prefix" aws2 logs filter-log-events --log-group-name $G \
	--log-stream-name-prefix web --filter-pattern '"event 0999"'
check "prefix selects web-*; 10 matches" jtrue "$TMP/out" "len(d['events']) == 10 and {e['logStreamName'] for e in d['events']} == {'web-1'} and sorted(s['logStreamName'] for s in d['searchedLogStreams']) == ['web-1', 'web-2']"
ok "filter-log-events over the whole group, pages of 1000 (the CLI follows nextToken)" \
	aws1 logs filter-log-events --log-group-name $G --page-size 1000
check "every event of every stream, interleaved by timestamp" jtrue "$TMP/out" \
	"len(d['events']) == 10000 + 1 + 1 + 7 and [e['timestamp'] for e in d['events']] == sorted(e['timestamp'] for e in d['events']) and len({e['eventId'] for e in d['events']}) == len(d['events'])"
ok "filter-log-events by logGroupIdentifier (ARN) and a time range" aws1 logs filter-log-events \
	--log-group-identifier arn:aws:logs:us-east-1:$ACCT_A:log-group:$G --start-time $((NOW - 5000)) --end-time $((NOW - 4990))
check "the time range selects the filter sample" jtrue "$TMP/out" "len(d['events']) == 5 and d['events'][0]['message'] == 'ERROR disk full'"

# --- aws logs tail (CLI v2) ---
ok "aws logs tail (v2) --since 1h --filter-pattern" aws2 logs tail $G --since 1h --filter-pattern ERROR
check "tail prints the stream and message" grep -q "db-1 ERROR disk full" "$TMP/out"

# --- tags ---
ok "list-tags-for-resource" aws1 logs list-tags-for-resource --resource-arn arn:aws:logs:us-east-1:$ACCT_A:log-group:$G
check "tags from create-log-group" jtrue "$TMP/out" "d['tags'] == {'team': 'web', 'env': 'dev'}"
ok "tag-resource" aws2 logs tag-resource --resource-arn arn:aws:logs:us-east-1:$ACCT_A:log-group:$G --tags owner=ann
ok "untag-resource" aws2 logs untag-resource --resource-arn arn:aws:logs:us-east-1:$ACCT_A:log-group:$G --tag-keys env
ok "list-tags-log-group (legacy)" aws2 logs list-tags-log-group --log-group-name $G
check "tags after tag/untag" jtrue "$TMP/out" "d['tags'] == {'team': 'web', 'owner': 'ann'}"
fails_with "tags of a missing group" ResourceNotFoundException \
	aws1 logs list-tags-for-resource --resource-arn arn:aws:logs:us-east-1:$ACCT_A:log-group:/nope

# --- retention ---
ok "create a group for retention" aws1 logs create-log-group --log-group-name /e2e/ret
ok "and a stream" aws1 logs create-log-stream --log-group-name /e2e/ret --log-stream-name s
python3 - "$TMP/old.json" "$NOW" <<'EOF'
import json, sys
now = int(sys.argv[2]); day = 86400000
json.dump([{"timestamp": now - 3 * day + i, "message": "three days old %d" % i} for i in range(5)], open(sys.argv[1], "w"))
EOF
ok "put events three days old" aws1 logs put-log-events --log-group-name /e2e/ret --log-stream-name s --log-events "file://$TMP/old.json"
ok "put a fresh one" aws1 logs put-log-events --log-group-name /e2e/ret --log-stream-name s --log-events timestamp=$NOW,message=fresh
ok "get-log-events before retention" aws1 logs get-log-events --log-group-name /e2e/ret --log-stream-name s
check "six events" jtrue "$TMP/out" "len(d['events']) == 6"
fails_with "retention of 2 days is not a valid value" InvalidParameterException \
	aws1 logs put-retention-policy --log-group-name /e2e/ret --retention-in-days 2
ok "put-retention-policy 1 day" aws2 logs put-retention-policy --log-group-name /e2e/ret --retention-in-days 1
ok "get-log-events after retention" aws1 logs get-log-events --log-group-name /e2e/ret --log-stream-name s
check "only the fresh event remains" jtrue "$TMP/out" "[e['message'] for e in d['events']] == ['fresh']"
ok "filter-log-events after retention" aws2 logs filter-log-events --log-group-name /e2e/ret
check "filter sees only the fresh event" jtrue "$TMP/out" "[e['message'] for e in d['events']] == ['fresh']"
ok "put-log-events older than the retention" aws1 logs put-log-events --log-group-name /e2e/ret --log-stream-name s \
	--log-events timestamp=$((NOW - 2 * 86400000)),message=expired timestamp=$NOW,message=fresh2
check "expiredLogEventEndIndex 0" jtrue "$TMP/out" "d['rejectedLogEventsInfo'] == {'expiredLogEventEndIndex': 0}"
ok "describe-log-groups shows retentionInDays" aws1 logs describe-log-groups --log-group-name-prefix /e2e/ret
check "retentionInDays 1" jtrue "$TMP/out" "d['logGroups'][0]['retentionInDays'] == 1"
ok "delete-retention-policy" aws1 logs delete-retention-policy --log-group-name /e2e/ret
ok "get-log-events after deleting the policy" aws1 logs get-log-events --log-group-name /e2e/ret --log-stream-name s
check "the old events are back (not yet deleted by the periodic sweep)" jtrue "$TMP/out" "len(d['events']) == 7"

# --- another account ---
with_b() { AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$@"; }
ok "account B describe-log-groups" with_b aws1 logs describe-log-groups
check "account B sees no groups" jtrue "$TMP/out" "d['logGroups'] == []"
fails_with "account B cannot read A's stream" ResourceNotFoundException \
	with_b aws2 logs get-log-events --log-group-name $G --log-stream-name web-1
ok "account B may create a group of the same name" with_b aws1 logs create-log-group --log-group-name $G
ok "account B filter-log-events" with_b aws1 logs filter-log-events --log-group-name $G
check "and it is empty" jtrue "$TMP/out" "d['events'] == []"

# --- durability: clean restart, then kill -9 right after an acknowledged put ---
stop_server TERM
check "clean shutdown" test "$SERVER_RC" -eq 0
start_server
ok "after a restart: filter-log-events over the group" aws1 logs filter-log-events --log-group-name $G
check "every event is still there" jtrue "$TMP/out" "len(d['events']) == 10009"
ok "after a restart: describe-log-streams" aws2 logs describe-log-streams --log-group-name $G --order-by LastEventTime --descending
check "LastEventTime order, descending" jtrue "$TMP/out" \
	"[s['logStreamName'] for s in d['logStreams']] == ['web-2', 'db-1', 'web-1'] or [s['logStreamName'] for s in d['logStreams']] == ['web-2', 'web-1', 'db-1']"
ok "put right before kill -9" aws1 logs put-log-events --log-group-name $G --log-stream-name web-2 \
	--log-events timestamp=$NOW,message=acknowledged-before-kill
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
start_server
ok "after kill -9: get-log-events" aws2 logs get-log-events --log-group-name $G --log-stream-name web-2
check "the acknowledged event survived" jtrue "$TMP/out" "d['events'][-1]['message'] == 'acknowledged-before-kill'"
ok "after kill -9: the 10,000 events" aws1 logs get-log-events --log-group-name $G --log-stream-name web-1 --start-from-head
check "all 10,000" jtrue "$TMP/out" "len(d['events']) == 10000"
ok "tags survive" aws1 logs list-tags-log-group --log-group-name $G
check "tags after restart" jtrue "$TMP/out" "d['tags'] == {'team': 'web', 'owner': 'ann'}"

# --- deleting a group removes its events for good ---
ok "delete-log-group" aws1 logs delete-log-group --log-group-name $G
fails_like "the deleted group is gone" ResourceNotFoundException "The specified log group does not exist" \
	aws1 logs describe-log-streams --log-group-name $G
ok "re-create it with a stream of the same name" aws1 logs create-log-group --log-group-name $G
ok "and the stream" aws1 logs create-log-stream --log-group-name $G --log-stream-name web-1
ok "get-log-events on the new stream" aws1 logs get-log-events --log-group-name $G --log-stream-name web-1
check "no old events come back" jtrue "$TMP/out" "d['events'] == []"
done_testing
