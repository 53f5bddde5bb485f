#!/bin/bash
# 100 real tasks (bridge mode, a dynamic host port each) start and stop on a crun agent, ten at a
# time, and afterwards nothing of them is left on the host: no containers, mounts, network
# namespaces, veth pairs, iptables rules, address leases or cgroups. Needs root.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/crunlib.sh"
crun_require
start_server --agent-timeout 30
C=cycles
crun_setup c 25
ok "create the cluster" aws1 ecs create-cluster --cluster-name "$C"
start_agent
check_agent_registered
mkdir -p "$TMP/rootfs/bin"
cp /bin/busybox "$TMP/rootfs/bin/" && for a in sh sleep httpd; do ln -s busybox "$TMP/rootfs/bin/$a"; done
ok "import busybox" "$GANTRY_BIN" image import --endpoint "$ENDPOINT" --create-repository --env PATH=/bin "$TMP/rootfs" bb:1
ok "register a bridge task with a dynamic port" aws1 ecs register-task-definition --family cyc \
	--container-definitions "[{\"name\":\"app\",\"image\":\"${ENDPOINT#http://}/bb:1\",\"memory\":16,\"stopTimeout\":2,\"command\":[\"httpd\",\"-f\",\"-p\",\"80\"],\"portMappings\":[{\"containerPort\":80}],\"linuxParameters\":{\"initProcessEnabled\":true}}]"
ok "100 tasks start and stop, ten at a time" e2epy - "$ENDPOINT" "$C" "$TMP/ids" <<'PY'
import sys, time, boto3
ep, cluster, ids = sys.argv[1], sys.argv[2], open(sys.argv[3], "w")
ecs = boto3.client("ecs", endpoint_url=ep, region_name="us-east-1")
def wait(arns, status, limit=120):
    end = time.time() + limit
    while time.time() < end:
        ts = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
        if all(t["lastStatus"] == status for t in ts):
            return ts
        bad = [t for t in ts if t["lastStatus"] == "STOPPED" and status != "STOPPED"]
        if bad:
            sys.exit("a task stopped early: %s" % bad[0].get("stoppedReason"))
        time.sleep(0.2)
    sys.exit("tasks did not reach %s" % status)
for batch in range(10):
    while True:
        r = ecs.run_task(cluster=cluster, taskDefinition="cyc", count=10)
        if r["tasks"]:
            break
        time.sleep(0.5)  # the previous batch's ports are still being released
    arns = [t["taskArn"] for t in r["tasks"]]
    ids.write("".join(a.rsplit("/", 1)[1] + "\n" for a in arns))
    ids.flush()
    if len(arns) != 10:
        sys.exit("placed %d of 10: %s" % (len(arns), r["failures"]))
    wait(arns, "RUNNING")
    for a in arns:
        ecs.stop_task(cluster=cluster, task=a)
    ts = wait(arns, "STOPPED")
    codes = sorted(t["containers"][0].get("exitCode") for t in ts)
    if codes != [143] * 10:
        sys.exit("exit codes %s" % codes)
print("100 tasks ran and stopped")
PY
# An agent killed (SIGKILL: no clean-up) while a task runs, and the task stopped through the API
# while it is away: the restarted agent is not given the task again, finds what it left unclaimed
# and removes it, its still-running container included.
ORPHAN=$(aws1 ecs run-task --cluster "$C" --task-definition cyc --query 'tasks[0].taskArn' --output text)
check "a task runs before the agent is killed" wait_status "$ORPHAN" RUNNING
OID=${ORPHAN##*/}
check "its conmon is out of the agent's cgroup" bash -c "grep -q ':/gantry/conmon\$' /proc/\$(cat $AGENT_STATE/crun-runtime/tasks/$OID/0/conmon.pid)/cgroup && ! grep -q ':/gantry/conmon\$' /proc/$AGENT_PID/cgroup"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
ok "stop the task while its agent is away" aws1 ecs stop-task --cluster "$C" --task "$ORPHAN"
check "its container still runs" bash -c "crun --root $AGENT_STATE/crun-runtime/crun/crun list | grep -q '^$OID-0 .*running'"
start_agent
check "the restarted agent reports the task STOPPED" wait_status "$ORPHAN" STOPPED
for _ in $(seq 1 100); do [ -e "$AGENT_STATE/crun-runtime/tasks/$OID" ] || break; sleep 0.2; done
check "and removes what the earlier agent left of it" bash -c "[ ! -e $AGENT_STATE/crun-runtime/tasks/$OID ]"
check "its container is gone" bash -c "! crun --root $AGENT_STATE/crun-runtime/crun/crun list | grep -q '^$OID-0 '"
check "no iptables rule names it" bash -c "! iptables-save | grep -q '$OID'"
check "no cgroup of it is left" bash -c "! ls -d /sys/fs/cgroup/*/gantry/$OID 2>/dev/null"
# Traffic that leaves the host: a network namespace stands for another host, on a veth of its own
# (198.18.N.0/30); a bridge-mode container connects to it and is seen there with the host's address
# on that link (the network's one MASQUERADE rule), through FORWARD (the network's ACCEPT rules).
N=$(($$ % 250))
OUT_NS=gout$$
OUT_IP=198.18.$N.2
ip netns add "$OUT_NS" && ip link add "gvo$$" type veth peer name "gvi$$" && ip link set "gvi$$" netns "$OUT_NS" &&
	ip addr add "198.18.$N.1/30" dev "gvo$$" && ip link set "gvo$$" up &&
	ip netns exec "$OUT_NS" ip addr add "$OUT_IP/30" dev "gvi$$" && ip netns exec "$OUT_NS" ip link set "gvi$$" up &&
	ip netns exec "$OUT_NS" ip link set lo up
ip netns exec "$OUT_NS" python3 -c '
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 9)); s.listen(1); s.settimeout(60)
c, peer = s.accept(); data = c.recv(100)
open(sys.argv[2], "w").write("%s %s" % (peer[0], data.decode().strip()))' "$OUT_IP" "$TMP/peer" &
EXTRA_PIDS+=($!)
ok "register a bridge task that connects beyond the host" aws1 ecs register-task-definition --family egress \
	--container-definitions "[{\"name\":\"app\",\"image\":\"${ENDPOINT#http://}/bb:1\",\"memory\":16,\"command\":[\"sh\",\"-c\",\"sleep 0.5; echo hello | busybox nc -w 5 $OUT_IP 9\"]}]"
EGRESS=$(aws1 ecs run-task --cluster "$C" --task-definition egress --query 'tasks[0].taskArn' --output text)
ok "... it runs to the end" wait_status "$EGRESS" STOPPED
for _ in $(seq 1 50); do [ -s "$TMP/peer" ] && break; sleep 0.1; done
check "... and the other side saw the host's address, not the container's (masquerade)" \
	bash -c "[ \"\$(cat $TMP/peer)\" = '198.18.$N.1 hello' ]"
ip netns del "$OUT_NS"; OUT_NS=

# disableNetworking in a bridge-mode task: loopback only, no eth0, and no attachment (so no bridge
# address in its /etc/hosts).
ok "register a bridge task with disableNetworking" aws1 ecs register-task-definition --family nonet \
	--container-definitions "[{\"name\":\"app\",\"image\":\"${ENDPOINT#http://}/bb:1\",\"memory\":16,\"disableNetworking\":true,\"command\":[\"sh\",\"-c\",\"busybox ip -o link | grep -q ' lo:' || exit 3; busybox ip -o link | grep -q eth0 && exit 4; grep -q '172\\\\.' /etc/hosts && exit 5; exit 0\"]}]"
NONET=$(aws1 ecs run-task --cluster "$C" --task-definition nonet --query 'tasks[0].taskArn' --output text)
ok "... it runs to the end" wait_status "$NONET" STOPPED
nonet_code() { aws1 ecs describe-tasks --cluster "$C" --tasks "$NONET" --query 'tasks[0].containers[0].exitCode' --output text; }
check "... having seen loopback, no eth0 and no bridge address in /etc/hosts (exit 0)" test "$(nonet_code)" = 0

# ECS_IMAGE_PULL_BEHAVIOR, with the image gone from the registry but stored on the host: default
# asks the registry and falls back to the stored image, always fails the task, prefer-cached does
# not ask (the option wins over the variable).
run_one() { # expected status
	local arn
	arn=$(aws1 ecs run-task --cluster "$C" --task-definition cyc --query 'tasks[0].taskArn' --output text)
	wait_status "$arn" "$1" || return 1
	LAST=$arn
	[ "$1" = RUNNING ] || return 0
	aws1 ecs stop-task --cluster "$C" --task "$arn" >/dev/null && wait_status "$arn" STOPPED
}
ok "delete the image from the registry" aws1 ecr batch-delete-image --repository-name bb --image-ids imageTag=1
check "pull behavior default: the stored image runs" run_one RUNNING
restart_agent() {
	kill "$AGENT_PID" && wait "$AGENT_PID" 2>/dev/null
	start_agent "$@"
}
ECS_IMAGE_PULL_BEHAVIOR=always restart_agent
check "ECS_IMAGE_PULL_BEHAVIOR=always: the task fails to start" run_one STOPPED
pull_failed() {
	aws1 ecs describe-tasks --cluster "$C" --tasks "$LAST" --query 'tasks[0].[stopCode,containers[0].reason]' \
		--output text | grep -q 'TaskFailedToStart.*CannotPullContainerError'
}
check "... with TaskFailedToStart and CannotPullContainerError" pull_failed
ECS_IMAGE_PULL_BEHAVIOR=always restart_agent --image-pull-behavior prefer-cached
check "--image-pull-behavior prefer-cached (over the variable's always): the stored image runs" run_one RUNNING
sleep 2
R=$AGENT_STATE/crun-runtime
check "no container left" bash -c "[ -z \"\$(ls -A $R/crun/crun)\" ]"
check "no exit file left" bash -c "[ -z \"\$(ls -A $R/crun/exits)\" ]"
check "no task directory left" bash -c "[ -z \"\$(ls -A $R/tasks)\" ]"
check "no network namespace left" bash -c "[ -z \"\$(ls -A $R/netns)\" ]"
check "no mount left" bash -c "! awk '{print \$5}' /proc/self/mountinfo | grep '^$AGENT_STATE/' | grep -vx '$R/netns'"
check "no veth left on the bridge" bash -c "[ -z \"\$(ip -o link show master $BRIDGE 2>/dev/null)\" ]"
check "no address lease left" bash -c "! ls $R/cni/*/ 2>/dev/null | grep -qE '^[0-9]+\\.'"
check "no iptables rule names these tasks' containers" bash -c "! iptables-save | grep -qF -f <(sed 's/\$/-0/' $TMP/ids)"
check "no cgroup of these tasks left" bash -c "for id in \$(cat $TMP/ids); do ls -d /sys/fs/cgroup/*/gantry/\$id 2>/dev/null && exit 1; done; [ \$(wc -l < $TMP/ids) = 100 ]"
check "the network's own chains are there while the agent runs" bash -c "iptables-save | grep -q '^-A FORWARD -j GANTRY-$BRIDGE\$' && iptables-save -t nat | grep -q '^-A POSTROUTING -j GANTRY-$BRIDGE\$'"
kill "$AGENT_PID" && wait "$AGENT_PID"
AGENT_PID=
check "the agent, exiting with no task left, removed them" bash -c "! iptables-save | grep -q 'GANTRY-$BRIDGE'"
check "no sanitizer report in the agent log" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' $TMP/agent.log"
done_testing
