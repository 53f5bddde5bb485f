#!/bin/bash
# Real containers through the AWS CLI: `gantry agent --runtime crun` on this host runs tasks made
# from a busybox image that `gantry image import` built from Debian's busybox-static. A malicious
# layer refused, exit codes, OOM kills, command and environment overrides, bridge networking with
# a dynamic host port reached with curl on 127.0.0.1, awsvpc, host and none modes, the task metadata
# endpoint from inside, links between containers, a volume two containers
# share, dependsOn ordering, health checks turning HEALTHY and UNHEALTHY, stop timeouts escalating
# to SIGKILL, an agent restart with containers running, and nothing left behind once the tasks have
# stopped. Needs root.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/crunlib.sh"
crun_require /usr/lib/cni/bridge
start_server --agent-timeout 30
C=real
crun_setup t 0

ok "create the cluster" aws1 ecs create-cluster --cluster-name "$C"
start_agent
check_agent_registered

# The image: Debian's static busybox with its applets, and a page for httpd.
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/www" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/"
for a in sh httpd echo cat sleep env head tail wget ls id hostname true false trap; do ln -sf busybox "$ROOTFS/bin/$a"; done
echo "hello from gantry" >"$ROOTFS/www/index.html"
ok "gantry image import of a busybox root" "$GANTRY_BIN" image import --endpoint "$ENDPOINT" --create-repository \
	--env PATH=/bin --cmd '["sh", "-c", "echo hi"]' "$ROOTFS" bb:1
IMG=${ENDPOINT#http://}/bb:1

# run_def FAMILY CONTAINERS-JSON [extra register args]: registers and runs one task; TASK = its ARN.
run_def() {
	local fam=$1 defs=$2; shift 2
	aws1 ecs register-task-definition --family "$fam" --container-definitions "$defs" "$@" >/dev/null &&
		TASK=$(aws1 ecs run-task --cluster "$C" --task-definition "$fam" --query 'tasks[0].taskArn' --output text)
}
describe() { aws1 ecs describe-tasks --cluster "$C" --tasks "$1" >"$TMP/task.json"; }

# 1. Exit codes, overrides.
run_def exit3 "[{\"name\":\"app\",\"image\":\"$IMG\",\"memory\":64,\"command\":[\"sh\",\"-c\",\"exit 3\"]}]"
ok "a task whose container exits 3 stops" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... exit code 3, EssentialContainerExited" "$TMP/task.json" \
	"d['tasks'][0]['containers'][0]['exitCode'] == 3 and d['tasks'][0]['stopCode'] == 'EssentialContainerExited'"
jcheck "... with pull times" "$TMP/task.json" "d['tasks'][0]['pullStartedAt'] <= d['tasks'][0]['pullStoppedAt']"

ok "run-task with command and environment overrides" aws1 ecs run-task --cluster "$C" --task-definition exit3 \
	--overrides '{"containerOverrides":[{"name":"app","command":["sh","-c","exit $CODE"],"environment":[{"name":"CODE","value":"42"}]}]}'
TASK=$(jget "$TMP/out" "d['tasks'][0]['taskArn']")
ok "... stops" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... with the overridden command's exit code 42" "$TMP/task.json" "d['tasks'][0]['containers'][0]['exitCode'] == 42"

run_def oom "[{\"name\":\"app\",\"image\":\"$IMG\",\"memory\":16,\"command\":[\"sh\",\"-c\",\"head -c 67108864 /dev/zero | tail > /dev/null\"]}]"
ok "a container over its memory limit" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... is OOM-killed: exit 137, OutOfMemoryError" "$TMP/task.json" \
	"d['tasks'][0]['containers'][0]['exitCode'] == 137 and d['tasks'][0]['containers'][0]['reason'].startswith('OutOfMemoryError')"

ok "a task-level memory limit" aws1 ecs register-task-definition --family taskmem --memory 32 \
	--container-definitions "[{\"name\":\"app\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"head -c 67108864 /dev/zero | tail > /dev/null\"]}]"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition taskmem --query 'tasks[0].taskArn' --output text)
ok "... bounds the containers together: the task stops" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... killed by the OOM killer (137)" "$TMP/task.json" "d['tasks'][0]['containers'][0]['exitCode'] == 137"

run_def badimg "[{\"name\":\"app\",\"image\":\"${ENDPOINT#http://}/nope:1\",\"memory\":32}]"
ok "an image that does not exist" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... stops the task with CannotPullContainerError" "$TMP/task.json" \
	"'CannotPullContainerError' in d['tasks'][0]['containers'][0].get('reason', '') and d['tasks'][0]['stopCode'] == 'TaskFailedToStart'"

# 1b. A malicious layer (a symlink to a host directory, a file written through it, a path with
# "..") is refused: the task fails to start and nothing appears outside.
EVIL_TARGET=$TMP/evil-target
mkdir -p "$EVIL_TARGET"
e2epy "$E2E_DIR/mkevil.py" "$TMP/evil" v1 "$EVIL_TARGET" >/dev/null
aws1 ecr get-login-password >"$TMP/pw" 2>/dev/null
aws1 ecr create-repository --repository-name evil >/dev/null
ok "skopeo pushes the malicious image" skopeo --override-arch amd64 --override-os linux copy --quiet \
	--dest-tls-verify=false --dest-creds "AWS:$(cat "$TMP/pw")" "oci:$TMP/evil:v1" "docker://${ENDPOINT#http://}/evil:v1"
run_def evil "[{\"name\":\"app\",\"image\":\"${ENDPOINT#http://}/evil:v1\",\"memory\":32}]"
ok "a task of it stops" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... TaskFailedToStart, CannotPullContainerError naming the entry and the symlink" "$TMP/task.json" \
	"d['tasks'][0]['stopCode'] == 'TaskFailedToStart' and 'CannotPullContainerError' in d['tasks'][0]['containers'][0]['reason'] and 'escape' in d['tasks'][0]['containers'][0]['reason']"
check "... and nothing was written outside" bash -c "[ -z \"\$(ls -A $EVIL_TARGET)\" ] && [ ! -e $AGENT_STATE/crun-runtime/images/layers/outside ]"

# 2. A web server on a dynamic host port, reached from the host.
run_def web "[{\"name\":\"web\",\"image\":\"$IMG\",\"memory\":64,\"stopTimeout\":5,\"command\":[\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"],\"portMappings\":[{\"containerPort\":8080,\"hostPort\":0}],\"linuxParameters\":{\"initProcessEnabled\":true}}]"
ok "httpd on a dynamic host port runs" wait_status "$TASK" RUNNING
WEB=$TASK
describe "$WEB"
PORT=$(jget "$TMP/task.json" "d['tasks'][0]['containers'][0]['networkBindings'][0]['hostPort']")
check "... with a host port from the ephemeral range" test "$PORT" -ge 49153
ok "curl 127.0.0.1:PORT reaches it" curl -sf --max-time 5 "http://127.0.0.1:$PORT/index.html"
check "... and gets the page" grep -qx "hello from gantry" "$TMP/out"
ok "stop-task" aws1 ecs stop-task --cluster "$C" --task "$WEB"
ok "... STOPPED" wait_status "$WEB" STOPPED
describe "$WEB"
jcheck "... httpd got SIGTERM (exit 143), the task says why" "$TMP/task.json" \
	"d['tasks'][0]['containers'][0]['exitCode'] == 143 and d['tasks'][0]['stopCode'] == 'UserInitiated'"
check "... the port answers no more" bash -c "! curl -sf --max-time 2 http://127.0.0.1:$PORT/"

# 3. Stop timeout: a container that ignores SIGTERM is killed after stopTimeout.
run_def stubborn "[{\"name\":\"app\",\"image\":\"$IMG\",\"memory\":32,\"stopTimeout\":2,\"command\":[\"sh\",\"-c\",\"trap '' TERM; while true; do sleep 1; done\"]}]"
ok "a container that ignores SIGTERM runs" wait_status "$TASK" RUNNING
ok "stop-task" aws1 ecs stop-task --cluster "$C" --task "$TASK"
ok "... STOPPED after its stopTimeout" wait_status "$TASK" STOPPED 20
describe "$TASK"
jcheck "... by SIGKILL (137)" "$TMP/task.json" "d['tasks'][0]['containers'][0]['exitCode'] == 137"

# 4. Two containers: a helper linked to the web server, a shared volume, dependsOn.
DEFS=$(
	cat <<EOF
[{"name":"web","image":"$IMG","memory":64,"essential":true,"stopTimeout":3,
  "command":["sh","-c","echo shared > /data/from-web; exec httpd -f -p 8080 -h /www"],
  "mountPoints":[{"sourceVolume":"data","containerPath":"/data"}],
  "linuxParameters":{"initProcessEnabled":true},"portMappings":[{"containerPort":8080}]},
 {"name":"helper","image":"$IMG","memory":32,"essential":false,"links":["web:backend"],
  "dependsOn":[{"containerName":"web","condition":"START"}],
  "mountPoints":[{"sourceVolume":"data","containerPath":"/shared","readOnly":true}],
  "command":["sh","-c","sleep 1; wget -q -O - http://backend:8080/index.html > /tmp/page && grep -q hello /tmp/page && grep -q shared /shared/from-web && exit 7"]}]
EOF
)
run_def pair "$DEFS" --volumes name=data
ok "the pair runs" wait_status "$TASK" RUNNING
PAIR=$TASK
for _ in $(seq 1 100); do
	describe "$PAIR"
	jtrue "$TMP/task.json" "[c for c in d['tasks'][0]['containers'] if c['name'] == 'helper'][0].get('exitCode') is not None" && break
	sleep 0.2
done
jcheck "the helper reached web by its link name and read the shared volume (exit 7)" "$TMP/task.json" \
	"[c for c in d['tasks'][0]['containers'] if c['name'] == 'helper'][0].get('exitCode') == 7"
jcheck "... a non-essential exit leaves the task RUNNING" "$TMP/task.json" "d['tasks'][0]['lastStatus'] == 'RUNNING'"

# 4b. The other network modes: awsvpc (an address of the task's own, reported on its attachment and
# reached directly), none (only a loopback) and host (the host's interfaces).
ok "register an awsvpc web task" aws1 ecs register-task-definition --family vpcweb --network-mode awsvpc \
	--container-definitions "[{\"name\":\"web\",\"image\":\"$IMG\",\"memory\":64,\"stopTimeout\":3,\"command\":[\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"],\"portMappings\":[{\"containerPort\":8080}],\"linuxParameters\":{\"initProcessEnabled\":true}}]"
ok "run it with a network configuration" aws1 ecs run-task --cluster "$C" --task-definition vpcweb \
	--network-configuration 'awsvpcConfiguration={subnets=[subnet-0a1b2c3d]}'
VPC=$(jget "$TMP/out" "d['tasks'][0]['taskArn']")
ok "... RUNNING" wait_status "$VPC" RUNNING
describe "$VPC"
jcheck "its network interface is ATTACHED with the task's address" "$TMP/task.json" \
	"[a for a in d['tasks'][0]['attachments'] if a['type'] == 'ElasticNetworkInterface'][0]['status'] == 'ATTACHED' and {x['name']: x['value'] for x in d['tasks'][0]['attachments'][0]['details']}['privateIPv4Address'] == d['tasks'][0]['containers'][0]['networkInterfaces'][0]['privateIpv4Address']"
VIP=$(jget "$TMP/task.json" "d['tasks'][0]['containers'][0]['networkInterfaces'][0]['privateIpv4Address']")
ok "curl reaches the task at its own address" curl -sf --max-time 5 "http://$VIP:8080/index.html"
ok "stop it" aws1 ecs stop-task --cluster "$C" --task "$VPC"
ok "... STOPPED" wait_status "$VPC" STOPPED 30
describe "$VPC"
jcheck "... and its network interface DELETED" "$TMP/task.json" "d['tasks'][0]['attachments'][0]['status'] == 'DELETED'"

ok "register a networkMode none task" aws1 ecs register-task-definition --family nonet --network-mode none \
	--container-definitions "[{\"name\":\"app\",\"image\":\"$IMG\",\"memory\":32,\"command\":[\"sh\",\"-c\",\"[ \\\"\$(ls /sys/class/net)\\\" = lo ] && exit 4; exit 1\"]}]"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition nonet --query 'tasks[0].taskArn' --output text)
ok "... stops" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... having seen only a loopback interface (exit 4)" "$TMP/task.json" "d['tasks'][0]['containers'][0]['exitCode'] == 4"

ok "register a networkMode host task" aws1 ecs register-task-definition --family hostnet --network-mode host \
	--container-definitions "[{\"name\":\"app\",\"image\":\"$IMG\",\"memory\":32,\"command\":[\"sh\",\"-c\",\"[ -e /sys/class/net/$BRIDGE ] && exit 6; exit 1\"]}]"
TASK=$(aws1 ecs run-task --cluster "$C" --task-definition hostnet --query 'tasks[0].taskArn' --output text)
ok "... stops" wait_status "$TASK" STOPPED
describe "$TASK"
jcheck "... having seen the host's own bridge (exit 6)" "$TMP/task.json" "d['tasks'][0]['containers'][0]['exitCode'] == 6"

# 4c. The task metadata endpoint v4, from inside the container, in each network mode.
META_CMD='wget -q -O /tmp/t "$ECS_CONTAINER_METADATA_URI_V4/task" && grep -q "\"TaskARN\":\"arn:aws:ecs:" /tmp/t && wget -q -O /tmp/c "$ECS_CONTAINER_METADATA_URI_V4" && grep -q "\"DockerId\"" /tmp/c && wget -q -O /tmp/s "$ECS_CONTAINER_METADATA_URI_V4/stats" && grep -q "memory_stats" /tmp/s && wget -q -O /tmp/ts "$ECS_CONTAINER_METADATA_URI_V4/task/stats" && exit 8; exit 1'
for mode in bridge host none awsvpc; do
	extra=()
	[ "$mode" = awsvpc ] && extra=(--network-configuration 'awsvpcConfiguration={subnets=[subnet-0a1b2c3d]}')
	aws1 ecs register-task-definition --family "meta-$mode" --network-mode "$mode" \
		--container-definitions "$(python3 -c 'import json,sys; print(json.dumps([{"name":"app","image":sys.argv[1],"memory":32,"command":["sh","-c",sys.argv[2]]}]))' "$IMG" "$META_CMD")" >/dev/null
	TASK=$(aws1 ecs run-task --cluster "$C" --task-definition "meta-$mode" "${extra[@]}" --query 'tasks[0].taskArn' --output text)
	ok "metadata endpoint ($mode): the task stops" wait_status "$TASK" STOPPED
	describe "$TASK"
	jcheck "... having read /, /task, /stats and /task/stats from inside (exit 8)" "$TMP/task.json" \
		"d['tasks'][0]['containers'][0].get('exitCode') == 8"
done

# 5. The agent restarts while a container runs: re-adopted, its exit still reported.
run_def later "[{\"name\":\"app\",\"image\":\"$IMG\",\"memory\":32,\"command\":[\"sh\",\"-c\",\"sleep 4; exit 5\"]}]"
ok "a task that exits by itself after 4 s runs" wait_status "$TASK" RUNNING
LATER=$TASK
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check "the agent stopped" bash -c "! kill -0 $AGENT_PID 2>/dev/null"
sleep 5
start_agent
ok "after the agent's restart the task is reported STOPPED" wait_status "$LATER" STOPPED 30
describe "$LATER"
jcheck "... with the exit code it had while the agent was away (5)" "$TMP/task.json" \
	"d['tasks'][0]['containers'][0]['exitCode'] == 5"

ok "stop the pair" aws1 ecs stop-task --cluster "$C" --task "$PAIR"
ok "... STOPPED" wait_status "$PAIR" STOPPED 30

# 6. Health checks: one that passes (and a container that waits for it to be HEALTHY), one that
# fails.
DEFS=$(
	cat <<EOF
[{"name":"good","image":"$IMG","memory":32,"stopTimeout":2,"command":["sh","-c","touch /tmp/ok; exec sleep 3600"],
  "linuxParameters":{"initProcessEnabled":true},
  "healthCheck":{"command":["CMD-SHELL","test -f /tmp/ok"],"interval":5,"timeout":2,"retries":1}},
 {"name":"after","image":"$IMG","memory":32,"essential":false,"command":["sh","-c","exit 9"],
  "dependsOn":[{"containerName":"good","condition":"HEALTHY"}]},
 {"name":"bad","image":"$IMG","memory":32,"essential":false,"stopTimeout":2,"command":["sleep","3600"],
  "linuxParameters":{"initProcessEnabled":true},
  "healthCheck":{"command":["CMD","false"],"interval":5,"timeout":2,"retries":2}}]
EOF
)
run_def health "$DEFS"
ok "a task with health checks runs" wait_status "$TASK" RUNNING
HEALTH=$TASK
health_of() { # container -> its healthStatus
	aws1 ecs describe-tasks --cluster "$C" --tasks "$HEALTH" \
		--query "tasks[0].containers[?name=='$1'].healthStatus | [0]" --output text
}
until_is() { # seconds command... expected: polls until the command prints the expected text
	local limit=$1 want=${*: -1}; shift
	set -- "${@:1:$(($# - 1))}"
	for _ in $(seq 1 $((limit * 2))); do
		[ "$("$@" 2>/dev/null)" = "$want" ] && return 0
		sleep 0.5
	done
	return 1
}
ok "the passing check makes its container HEALTHY" until_is 30 health_of good HEALTHY
ok "the failing one makes its container UNHEALTHY after its retries" until_is 40 health_of bad UNHEALTHY
describe "$HEALTH"
jcheck "the task's health follows its essential container (HEALTHY)" "$TMP/task.json" \
	"d['tasks'][0]['healthStatus'] == 'HEALTHY'"
ok "the container that depends on HEALTHY started after it and exited 9" until_is 30 \
	aws1 ecs describe-tasks --cluster "$C" --tasks "$HEALTH" \
	--query "tasks[0].containers[?name=='after'].exitCode | [0]" --output text 9
ok "stop the health task" aws1 ecs stop-task --cluster "$C" --task "$HEALTH"
ok "... STOPPED" wait_status "$HEALTH" STOPPED 30

# 7. Nothing left behind.
sleep 2
check "no container left in crun's state" bash -c "[ -z \"\$(ls -A $AGENT_STATE/crun-runtime/crun/crun 2>/dev/null)\" ]"
check "no exit file left" bash -c "[ -z \"\$(ls -A $AGENT_STATE/crun-runtime/crun/exits 2>/dev/null)\" ]"
check "no task directory left" bash -c "[ -z \"\$(ls -A $AGENT_STATE/crun-runtime/tasks 2>/dev/null)\" ]"
check "no network namespace left" bash -c "[ -z \"\$(ls -A $AGENT_STATE/crun-runtime/netns 2>/dev/null)\" ]"
# (the namespace directory itself is a mount point for as long as the agent runs, as /run/netns is)
check "no mount left under the agent's state" bash -c "! awk '{print \$5}' /proc/self/mountinfo | grep '^$AGENT_STATE/' | grep -vx '$AGENT_STATE/crun-runtime/netns'"
check "no veth left on the test bridge" bash -c "[ -z \"\$(ip -o link show master $BRIDGE 2>/dev/null)\" ]"
check "no iptables rule names a task" bash -c "! iptables-save | grep -q '$(basename "$WEB")'"
check "no sanitizer report in the agent log" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' $TMP/agent.log || { grep -E -A30 'ERROR: (Address|Leak)Sanitizer|runtime error:' $TMP/agent.log | head -60 >&2; false; }"
done_testing
