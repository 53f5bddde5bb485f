#!/bin/bash
# bench/logs/container.sh: lines/s from a container printing as fast as it can to the moment every
# line is queryable. A gantry server and one crun agent (root; bench-owned state, bridge and subnet),
# a busybox image from `gantry image import`, one task running `seq 1 N` with the awslogs driver;
# the clock runs from RunTask until GetLogEvents returns the last line. Settings: BENCH_LINES
# (1,000,000), GANTRY_BIN (build/gantry).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/gantry}
LINES=${BENCH_LINES:-1000000}
die() { echo "bench/logs/container: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (it runs a real container)"
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN is missing: run 'make' first"
[ -x /bin/busybox ] || die "busybox-static is not installed"
TMP=$(mktemp -d /var/tmp/gantry-bench-logs.XXXXXX)
PIDS=()
BRIDGE=gbl$$
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	grep " $TMP/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m"; done
	ip link del "$BRIDGE" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
KEY=GKIA$(python3 -c 'import secrets; print(secrets.token_hex(8).upper())')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
printf '%s %s 000000000000\n' "$KEY" "$SECRET" >"$TMP/credentials"
"$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$TMP/data" --credentials "$TMP/credentials" \
	--ready-file "$TMP/ready" >"$TMP/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$TMP/ready" ] && break; sleep 0.1; done
EP=$(cat "$TMP/ready")
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
aws --endpoint-url "$EP" ecs create-cluster --cluster-name bench >/dev/null
"$GANTRY_BIN" agent --server "$EP" --cluster bench --runtime crun --state "$TMP/agent" --bridge "$BRIDGE" \
	--subnet 172.31.253.0/24 --metadata-port "$PORT" >"$TMP/agent.log" 2>&1 &
PIDS+=($!)
mkdir -p "$TMP/rootfs/bin"
cp /bin/busybox "$TMP/rootfs/bin/" && ln -s busybox "$TMP/rootfs/bin/seq" && ln -s busybox "$TMP/rootfs/bin/sh"
"$GANTRY_BIN" image import --endpoint "$EP" --create-repository --env PATH=/bin "$TMP/rootfs" bb:1 >/dev/null
python3 - "$EP" "$LINES" "${EP#http://}/bb:1" <<'PY'
import sys, time, boto3
ep, lines, img = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ecs = boto3.client("ecs", endpoint_url=ep)
logs = boto3.client("logs", endpoint_url=ep)
for _ in range(100):
    if ecs.list_container_instances(cluster="bench")["containerInstanceArns"]:
        break
    time.sleep(0.1)
ecs.register_task_definition(family="chatty", containerDefinitions=[{
    "name": "app", "image": img, "memory": 64, "command": ["seq", "1", str(lines)],
    "logConfiguration": {"logDriver": "awslogs", "options": {
        "awslogs-group": "/bench", "awslogs-stream-prefix": "b", "awslogs-create-group": "true"}}}])
# warm the image cache
t = ecs.run_task(cluster="bench", taskDefinition="chatty", overrides={"containerOverrides": [
    {"name": "app", "command": ["seq", "1", "1"]}]})["tasks"][0]["taskArn"]
while ecs.describe_tasks(cluster="bench", tasks=[t])["tasks"][0]["lastStatus"] != "STOPPED":
    time.sleep(0.1)
t0 = time.time()
arn = ecs.run_task(cluster="bench", taskDefinition="chatty")["tasks"][0]["taskArn"]
stream = "b/app/" + arn.rsplit("/", 1)[1]
last = None
while True:
    try:
        r = logs.get_log_events(logGroupName="/bench", logStreamName=stream, startFromHead=False, limit=1)
        if r["events"] and r["events"][-1]["message"] == str(lines):
            break
    except logs.exceptions.ResourceNotFoundException:
        pass
    time.sleep(0.05)
dt = time.time() - t0
print("bench/logs/container: %d lines from `seq` in a container to queryable in %.2f s: %.0f lines/s"
      % (lines, dt, lines / dt))
PY
