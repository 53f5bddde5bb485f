#!/bin/bash
# The README's quick start, as a newcomer runs it: `gantry dev` (server and crun agent), a busybox
# image made with `gantry image import`, docs/examples/web-and-helper.json registered and run, the
# web server reached with curl on its dynamic host port, health and exit codes in describe-tasks,
# the stop, and nothing of the task left on the host. Needs root.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/crunlib.sh"
crun_require
DIR=$TMP/newcomer
mkdir -p "$DIR"
# gantry dev uses the default bridge: removed at the end when this test brought it up.
HAD_BRIDGE=
ip link show gantry0 >/dev/null 2>&1 && HAD_BRIDGE=1
(cd "$DIR" && exec "$GANTRY_BIN" dev --listen 127.0.0.1:0 --ready-file "$TMP/dev.ready") >"$TMP/dev.out" 2>>"$TMP/server.log" &
DEV_PID=$!
dev_cleanup() {
	kill "$DEV_PID" 2>/dev/null && wait "$DEV_PID" 2>/dev/null
	grep " $DIR/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
	[ -z "$HAD_BRIDGE" ] && ip link del gantry0 2>/dev/null
	cleanup
}
trap dev_cleanup EXIT
for _ in $(seq 1 200); do [ -s "$TMP/dev.ready" ] && break; sleep 0.05; done
check "gantry dev started" test -s "$TMP/dev.ready"
eval "$(grep '^export ' "$TMP/dev.out")"
ENDPOINT=$AWS_ENDPOINT_URL
HOST=${ENDPOINT#http://}
export AWS_PAGER="" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
check "it printed the exports" test -n "$AWS_ACCESS_KEY_ID"
for _ in $(seq 1 100); do
	n=$(aws1 ecs list-container-instances --query 'length(containerInstanceArns)' --output text 2>/dev/null)
	[ "$n" = 1 ] && break
	sleep 0.2
done
check "its agent registered this host in the default cluster" test "$n" = 1

cd "$DIR" || exit 1
mkdir -p rootfs/bin rootfs/www
cp /bin/busybox rootfs/bin/ && for a in sh httpd wget sleep; do ln -s busybox rootfs/bin/$a; done
echo hello >rootfs/www/index.html
ok "gantry image import (README)" "$GANTRY_BIN" image import --create-repository --env PATH=/bin rootfs busybox:1.0
sed "s|127.0.0.1:7700|$HOST|" "$ROOT/docs/examples/web-and-helper.json" >web-and-helper.json
ok "register-task-definition --cli-input-json (README)" aws1 ecs register-task-definition --cli-input-json file://web-and-helper.json
ok "run-task" aws1 ecs run-task --task-definition web-and-helper --query 'tasks[0].taskArn' --output text
TASK=$(cat "$TMP/out")
ok "wait tasks-running" aws1 ecs wait tasks-running --tasks "$TASK"
health() { aws1 ecs describe-tasks --tasks "$TASK" --query 'tasks[0].containers[].[name,lastStatus,healthStatus]' --output text | sort | tr '\t\n' ' '; }
for _ in $(seq 1 60); do
	[ "$(health)" = "helper RUNNING UNKNOWN web RUNNING HEALTHY " ] && break
	sleep 0.5
done
check "web turns HEALTHY and the helper runs" test "$(health)" = "helper RUNNING UNKNOWN web RUNNING HEALTHY "
PORT=$(aws1 ecs describe-tasks --tasks "$TASK" --query "tasks[0].containers[?name=='web'].networkBindings[0].hostPort | [0]" --output text)
ok "curl 127.0.0.1:PORT" curl -sf --max-time 5 "http://127.0.0.1:$PORT/"
check "... says hello" grep -qx hello "$TMP/out"
ok "stop-task" aws1 ecs stop-task --task "$TASK"
ok "wait tasks-stopped" aws1 ecs wait tasks-stopped --tasks "$TASK"
aws1 ecs describe-tasks --tasks "$TASK" >"$TMP/task.json"
jcheck "stopCode UserInitiated, both containers ended on SIGTERM (143)" "$TMP/task.json" \
	"d['tasks'][0]['stopCode'] == 'UserInitiated' and sorted((c['name'], c.get('exitCode')) for c in d['tasks'][0]['containers']) == [('helper', 143), ('web', 143)]"
sleep 2
STATE=$DIR/gantry-data/agent/crun-runtime
check "no container left" bash -c "[ -z \"\$(ls -A $STATE/crun/crun)\" ]"
check "no task directory left" bash -c "[ -z \"\$(ls -A $STATE/tasks)\" ]"
check "no network namespace left" bash -c "[ -z \"\$(ls -A $STATE/netns)\" ]"
check "no mount left" bash -c "! awk '{print \$5}' /proc/self/mountinfo | grep '^$STATE/' | grep -vx '$STATE/netns'"
check "no veth left on gantry0" bash -c "[ -z \"\$(ip -o link show master gantry0 2>/dev/null)\" ]"
check "no iptables rule names the task" bash -c "! iptables-save | grep -q '$(basename "$TASK")'"
check "no cgroup left" bash -c "! ls -d /sys/fs/cgroup/*/gantry/$(basename "$TASK") 2>/dev/null | grep -q ."
# The README's logs section: the awslogs driver, read with `aws logs tail --follow` and filtered.
sed "s|127.0.0.1:7700|$HOST|" "$ROOT/docs/examples/hello-logs.json" >hello-logs.json
ok "register hello-logs (README)" aws1 ecs register-task-definition --cli-input-json file://hello-logs.json
ok "run it" aws1 ecs run-task --task-definition hello-logs --query 'tasks[0].taskArn' --output text
LOGTASK=$(cat "$TMP/out")
if have_aws2; then
	timeout 12 "$AWS2" logs tail /ecs/hello-logs --follow --endpoint-url "$ENDPOINT" >"$TMP/tail.out" 2>"$TMP/tail.err"
	check "aws logs tail --follow (CLI v2) shows the lines as they come" grep -q "INFO tick 3" "$TMP/tail.out"
else
	sleep 12
fi
for _ in $(seq 1 20); do
	aws1 logs filter-log-events --log-group-name /ecs/hello-logs --filter-pattern ERROR >"$TMP/f.json" 2>/dev/null
	jtrue "$TMP/f.json" "len(d['events']) >= 1" && break
	sleep 1
done
jcheck "filter-log-events --filter-pattern ERROR finds the error line, in a hello/app/<task> stream" "$TMP/f.json" \
	"d['events'][0]['message'] == 'ERROR tick 10 went wrong' and d['events'][0]['logStreamName'].startswith('hello/app/')"
ok "stop it" aws1 ecs stop-task --task "$LOGTASK"
ok "... stopped" aws1 ecs wait tasks-stopped --tasks "$LOGTASK"
sleep 1
check "no container left after it" bash -c "[ -z \"\$(ls -A $STATE/crun/crun)\" ]"

kill "$DEV_PID"; wait "$DEV_PID"
check "gantry dev stops on SIGTERM (exit $?)" true
DEV_PID=
done_testing
