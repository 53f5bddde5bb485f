#!/bin/bash
# The awslogs driver end to end: a container's stdout and stderr read back through `aws logs`
# (get-log-events and filter-log-events, every line in order), the stream named as ECS names it,
# awslogs-create-group, a missing group failing the start with ECS's message, nothing lost across an
# agent restart and a server restart while a container prints, and another account seeing nothing.
# Needs root.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/crunlib.sh"
crun_require
start_server --agent-timeout 60
C=logs
crun_setup l 13
ok "create the cluster" aws1 ecs create-cluster --cluster-name "$C"
start_agent
check_agent_registered
mkdir -p "$TMP/rootfs/bin"
cp /bin/busybox "$TMP/rootfs/bin/" && for a in sh seq sleep echo head tr sed; do ln -s busybox "$TMP/rootfs/bin/$a"; done
ok "import busybox" "$GANTRY_BIN" image import --endpoint "$ENDPOINT" --create-repository --env PATH=/bin "$TMP/rootfs" bb:1
IMG=${ENDPOINT#http://}/bb:1
logdef() { # family group prefix create command
	python3 -c 'import json,sys; f,g,p,c,cmd,img=sys.argv[1:]; print(json.dumps([{"name":"app","image":img,"memory":32,"command":["sh","-c",cmd],"logConfiguration":{"logDriver":"awslogs","options":dict({"awslogs-group":g,"awslogs-region":"us-east-1","awslogs-stream-prefix":p}, **({"awslogs-create-group":"true"} if c=="yes" else {}))}}]))' "$@" "$IMG"
}

# 1. A missing group without awslogs-create-group fails the start.
ok "register a task logging to a group that does not exist" aws1 ecs register-task-definition --family nogroup \
	--container-definitions "$(logdef nogroup /gantry/nope pfx no 'echo hi')"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition nogroup --query 'tasks[0].taskArn' --output text)
ok "... the task stops" wait_status "$TASK" STOPPED
aws1 ecs describe-tasks --cluster "$C" --tasks "$TASK" >"$TMP/task.json"
jcheck "... failing to start, with ECS's message" "$TMP/task.json" \
	"d['tasks'][0]['stopCode'] == 'TaskFailedToStart' and 'ResourceInitializationError' in d['tasks'][0]['containers'][0]['reason'] and 'log group does not exist' in d['tasks'][0]['containers'][0]['reason']"

# 2. 100,000 lines on stdout and stderr, with awslogs-create-group.
ok "register a chatty task (100,000 lines, stdout and stderr)" aws1 ecs register-task-definition --family chatty \
	--container-definitions "$(logdef chatty /gantry/chatty web yes 'for i in $(seq 1 50000); do echo "out $i"; echo "ERROR err $i" >&2; done')"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition chatty --query 'tasks[0].taskArn' --output text)
TID=${TASK##*/}
ok "... runs to the end" wait_status "$TASK" STOPPED 120
ok "get-log-events: every line, in order (stream prefix/container/task-id)" e2epy - "$ENDPOINT" "/gantry/chatty" "web/app/$TID" <<'PY'
import sys, boto3
from e2elib import stream_messages
ep, group, stream = sys.argv[1:]
logs = boto3.client("logs", endpoint_url=ep, region_name="us-east-1")
msgs = stream_messages(logs, group, stream, until=lambda m: len(m) >= 100000)
outs = [m for m in msgs if m.startswith("out ")]
errs = [m for m in msgs if m.startswith("ERROR err ")]
assert len(msgs) == 100000, len(msgs)
assert outs == ["out %d" % i for i in range(1, 50001)], "stdout out of order or missing"
assert errs == ["ERROR err %d" % i for i in range(1, 50001)], "stderr out of order or missing"
print("100000 lines in order")
PY
ok "filter-log-events --filter-pattern ERROR" aws1 logs filter-log-events --log-group-name /gantry/chatty \
	--filter-pattern ERROR --max-items 5
jcheck "... finds the stderr lines" "$TMP/out" "len(d['events']) == 5 and all(e['message'].startswith('ERROR err') for e in d['events'])"

# 2b. A line longer than an event (256 KiB) is split as CloudWatch splits it: between characters,
# counting an invalid byte as the 3 bytes of the U+FFFD it is sent as. Batches are bounded as
# CloudWatch bounds them, so lines full of characters JSON must escape make requests of several MiB.
ok "register a task printing a 300,000-byte line, lines of control characters, invalid UTF-8, 3-byte characters and a NUL" \
	aws1 ecs register-task-definition --family big \
	--container-definitions "$(logdef big /gantry/big b yes 'head -c 300000 /dev/zero | tr "\\0" x; echo; for i in $(seq 1 3000); do head -c 300 /dev/zero | tr "\\0" "\\033"; echo; done; head -c 300000 /dev/zero | tr "\\0" "\\377"; echo; head -c 100000 /dev/zero | tr "\\0" x | sed "s/x/€/g"; echo; printf "nul\\000byte\\n"')"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition big --query 'tasks[0].taskArn' --output text)
ok "... runs to the end" wait_status "$TASK" STOPPED 60
TID=${TASK##*/}
ok "the long line arrives as two events (262,118 + 37,882 bytes), then all 3,000 control-character lines, then the others cut as sent" \
	e2epy - "$ENDPOINT" "/gantry/big" "b/app/$TID" <<'PY'
import sys, boto3
from e2elib import stream_messages
ep, group, stream = sys.argv[1:]
logs = boto3.client("logs", endpoint_url=ep, region_name="us-east-1")
msgs = stream_messages(logs, group, stream, until=lambda m: len(m) >= 3009)
assert [len(m) for m in msgs[:2]] == [262118, 37882], [len(m) for m in msgs[:2]]
assert set(msgs[0] + msgs[1]) == {"x"}
assert len(msgs) == 3009, len(msgs)
assert all(m == "\x1b" * 300 for m in msgs[2:3002]), repr(msgs[2][:20])
# 300,000 bytes 0xff: each is U+FFFD (3 bytes) as sent, so an event takes 87,372 of them (262,116
# bytes); 100,000 euro signs (3 bytes each) are cut between characters, 87,372 to an event.
assert msgs[3002:3006] == ["\ufffd" * 87372] * 3 + ["\ufffd" * 37884], [len(m) for m in msgs[3002:3006]]
assert msgs[3006:3008] == ["\u20ac" * 87372, "\u20ac" * 12628], [len(m) for m in msgs[3006:3008]]
# A NUL byte, which the API's JSON does not take inside a string, is sent as U+FFFD too.
assert msgs[3008] == "nul\ufffdbyte", repr(msgs[3008])
PY

# 2c. A line longer than a whole batch (3,000,000 bytes: a batch holds 1,048,576): batches end in
# the middle of the line and the next goes on from there, nothing lost or sent twice.
ok "register a task printing a 3,000,000-byte line" aws1 ecs register-task-definition --family huge \
	--container-definitions "$(logdef huge /gantry/huge h yes 'head -c 3000000 /dev/zero | tr "\\0" y; echo; echo after')"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition huge --query 'tasks[0].taskArn' --output text)
ok "... runs to the end" wait_status "$TASK" STOPPED 60
TID=${TASK##*/}
ok "... and arrives as 11 events of 262,118 bytes, one of 116,702, then the next line" \
	e2epy - "$ENDPOINT" "/gantry/huge" "h/app/$TID" <<'PY'
import sys, boto3
from e2elib import stream_messages
ep, group, stream = sys.argv[1:]
logs = boto3.client("logs", endpoint_url=ep, region_name="us-east-1")
msgs = stream_messages(logs, group, stream, until=lambda m: m and m[-1] == "after")
assert [len(m) for m in msgs] == [262118] * 11 + [116702, 5], [len(m) for m in msgs]
assert set("".join(msgs[:12])) == {"y"} and msgs[12] == "after"
PY

# 2d. The agent SIGKILLed while it ships a line of many batches (24,000,000 bytes, ~23 batches):
# batches end inside the line, with a rest not yet shipped (less than an event) that the offset
# file keeps; the restarted agent goes on with it. (Kept in memory only, the rest was lost.)
ok "register a task printing a 24,000,000-byte line" aws1 ecs register-task-definition --family vast \
	--container-definitions "$(logdef vast /gantry/vast v yes 'head -c 24000000 /dev/zero | tr "\\0" z; echo; echo after')"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition vast --query 'tasks[0].taskArn' --output text)
TID=${TASK##*/}
ok "... its first events arrive" e2epy - "$ENDPOINT" "/gantry/vast" "v/app/$TID" <<'PY'
import sys, time, boto3
ep, group, stream = sys.argv[1:]
logs = boto3.client("logs", endpoint_url=ep, region_name="us-east-1")
deadline = time.time() + 60
while time.time() < deadline:
    try:
        if logs.get_log_events(logGroupName=group, logStreamName=stream, limit=1, startFromHead=True)["events"]:
            sys.exit(0)
    except logs.exceptions.ResourceNotFoundException:
        pass
    time.sleep(0.02)
sys.exit(1)
PY
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
aws1 logs get-log-events --log-group-name /gantry/vast --log-stream-name "v/app/$TID" --start-from-head >"$TMP/ev.json"
jcheck "the agent was killed with the line shipped in part" "$TMP/ev.json" "0 < len(d['events']) < 92"
start_agent
ok "... the task stops under the restarted agent" wait_status "$TASK" STOPPED 120
ok "... and the line arrives whole: 91 events of 262,118 bytes, one of 147,262, then the next line" \
	e2epy - "$ENDPOINT" "/gantry/vast" "v/app/$TID" <<'PY'
import sys, boto3
from e2elib import stream_messages
ep, group, stream = sys.argv[1:]
logs = boto3.client("logs", endpoint_url=ep, region_name="us-east-1")
msgs = stream_messages(logs, group, stream, until=lambda m: m and m[-1] == "after", limit_s=120)
# Delivery is at least once: a batch the server stored whose answer the killed agent never saw is
# sent again (4 events of 262,118 bytes fill a batch). A lost rest of the line would shift every
# cut after it, and the last piece would not be 147,262 bytes.
lens = [len(m) for m in msgs]
full = len(lens) - 2
assert lens[-2:] == [147262, 5] and lens[:full] == [262118] * full, lens
assert full >= 91 and (full - 91) % 4 == 0, lens
assert set("".join(msgs[:-1])) == {"z"} and msgs[-1] == "after"
PY

# 3. An agent restart and a server restart while a container prints: nothing lost.
ok "register a slow printer" aws1 ecs register-task-definition --family slow \
	--container-definitions "$(logdef slow /gantry/slow s yes 'for i in $(seq 1 60); do echo "line $i"; sleep 0.1; done')"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition slow --query 'tasks[0].taskArn' --output text)
TID=${TASK##*/}
ok "... runs" wait_status "$TASK" RUNNING
sleep 1
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
sleep 1
start_agent
sleep 1
stop_server KILL
start_server --agent-timeout 60
ok "... stops after both restarts" wait_status "$TASK" STOPPED 60
for _ in $(seq 1 60); do
	aws1 logs get-log-events --log-group-name /gantry/slow --log-stream-name "s/app/$TID" --start-from-head >"$TMP/ev.json" 2>/dev/null
	jtrue "$TMP/ev.json" "len(d['events']) >= 60" && break
	sleep 1
done
jcheck "all 60 lines arrived, in order, once" "$TMP/ev.json" "[e['message'] for e in d['events']] == ['line %d' % i for i in range(1, 61)]"

# 4. Another account sees nothing.
if AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$AWS1" --endpoint-url "$ENDPOINT" logs describe-log-groups >"$TMP/b.json" 2>"$TMP/err"; then
	jcheck "account B sees no log group" "$TMP/b.json" "d['logGroups'] == []"
else
	check "account B's call works" false
fi
check "no sanitizer report in the agent log" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' $TMP/agent.log"
done_testing
