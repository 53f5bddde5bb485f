#!/bin/bash
# Container definition options on real containers (a crun agent of the test's own), registered and
# run through the AWS CLI: extraHosts, dnsServers and dnsSearchDomains, hostname,
# readonlyRootFilesystem, linuxParameters.tmpfs and sharedMemorySize, privileged, capabilities add
# and drop, ulimits (one above the agent's own hard limit, lowered with a warning rather than
# failing the task), user, workingDirectory, dockerLabels (through the task metadata endpoint) and
# initProcessEnabled. Each task runs a busybox script that checks what its container sees and exits
# with one bit set per failed check (its output goes to awslogs, shown when a check fails); the
# tasks run side by side. Needs root.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/crunlib.sh"
crun_require /usr/lib/cni/bridge /usr/bin/tini-static
start_server --agent-timeout 30
C=opts
crun_setup o 37

# The agent's own hard limit on open files: 20,000 (or this shell's, when lower). A container that
# asks for more gets this much.
AGENT_NOFILE=20000
h=$(ulimit -Hn)
[ "$h" != unlimited ] && [ "$h" -lt "$AGENT_NOFILE" ] && AGENT_NOFILE=$h
ulimit -n "$AGENT_NOFILE"

ok "create the cluster" aws1 ecs create-cluster --cluster-name "$C"
start_agent
check_agent_registered

# The image: static busybox with all its applets, a user `app` (uid 1000, also in group wheel).
R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/mnt" "$R/home/app"
chmod 1777 "$R/tmp"
cp /bin/busybox "$R/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nwheel:x:10:root,app\napp:x:1000:\n' >"$R/etc/group"
sed -e '$a\' /etc/hosts >"$R/host-hosts" # what a container in the host's network sees, but its extraHosts
ok "gantry image import of a busybox root" "$GANTRY_BIN" image import --endpoint "$ENDPOINT" --create-repository \
	--env PATH=/bin "$R" bb:1
IMG=${ENDPOINT#http://}/bb:1
ok "create the log group the containers write to" aws1 logs create-log-group --log-group-name /t93

# Every script starts with k BIT CMD...: runs the check CMD, prints "ok BIT" or "FAIL BIT: CMD" and
# on failure sets BIT in the exit code. has_cap N: capability N is in the effective set. kib PATH:
# the size of the file system at PATH in KiB.
PRELUDE='r=0
k() { b=$1; shift; if "$@"; then echo "ok $b"; else echo "FAIL $b: $*"; r=$((r | b)); fi; }
eff=$(awk "/^CapEff:/ {print \$2}" /proc/self/status)
has_cap() { [ $(((0x$eff >> $1) & 1)) = 1 ]; }
kib() { df -k "$1" | awk "NR == 2 {print \$2}"; }
'

# cdef SCRIPT EXTRA-JSON: the container definitions of a task of one container "app" that runs
# SCRIPT (after the prelude) and logs to awslogs; EXTRA-JSON is merged into the definition.
cdef() {
	python3 -c 'import json, sys
script, extra, img = sys.argv[1:]
d = {"name": "app", "image": img, "memory": 32, "command": ["sh", "-c", script],
     "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/t93", "awslogs-region": "us-east-1",
                          "awslogs-stream-prefix": "t93"}}}
d.update(json.loads(extra))
print(json.dumps([d]))' "$PRELUDE$1"'
exit $r' "$2" "$IMG"
}

declare -A TASK CODE
# launch FAMILY SCRIPT EXTRA-JSON [register args]: registers the family and runs one task of it.
launch() {
	local fam=$1 script=$2 extra=$3
	shift 3
	ok "$fam: register-task-definition" aws1 ecs register-task-definition --family "$fam" \
		--container-definitions "$(cdef "$script" "$extra")" "$@"
	ok "$fam: run-task" aws1 ecs run-task --cluster "$C" --task-definition "$fam"
	TASK[$fam]=$(jget "$TMP/out" "d['tasks'][0]['taskArn']" 2>/dev/null)
}

# 1. Names and addresses: extraHosts (IPv4 and IPv6), dnsServers, dnsSearchDomains, hostname.
launch names "$(
	cat <<'EOF'
k 1 grep -qE '^10\.1\.2\.3[[:space:]]+db\.internal$' /etc/hosts
k 2 grep -qE '^fd00::5[[:space:]]+v6\.internal$' /etc/hosts
k 4 test "$(awk '/^nameserver/ {printf "%s ", $2}' /etc/resolv.conf)" = "10.9.9.9 10.9.9.10 "
k 8 grep -qxE 'search[[:space:]]+corp\.example[[:space:]]+svc\.example' /etc/resolv.conf
k 16 test "$(hostname)" = web-1 -a "$(cat /etc/hostname)" = web-1 -a "$HOSTNAME" = web-1
a=$(awk '$2 == "web-1" {print $1}' /etc/hosts)
k 32 eval 'test -n "$a" && ip -o addr | grep -q " $a/"'
cat /etc/hosts /etc/resolv.conf
EOF
)" '{"hostname": "web-1", "dnsServers": ["10.9.9.9", "10.9.9.10"], "dnsSearchDomains": ["corp.example", "svc.example"],
     "extraHosts": [{"hostname": "db.internal", "ipAddress": "10.1.2.3"}, {"hostname": "v6.internal", "ipAddress": "fd00::5"}]}' \
	--network-mode bridge

# 2. A read-only root with tmpfs mounts (one on a mount point the image lacks, with exec; one inside
# another, listed before it) and a larger /dev/shm.
launch readonly "$(
	cat <<'EOF'
k 1 eval 'touch /x 2>&1 | grep -q "Read-only file system"'
k 2 touch /scratch/y
k 4 test "$(kib /scratch)" = 16384
k 8 eval 'grep " /scratch " /proc/mounts | grep -q "nosuid,nodev" && cp /bin/busybox /scratch/true && /scratch/true'
k 16 test "$(kib /dev/shm)" = 32768
k 32 eval '! { echo >>/etc/hosts; } 2>/dev/null && ! { echo >>/etc/resolv.conf; } 2>/dev/null'
k 64 eval 'echo x >/dev/shm/f && echo y >/tmp/z && test "$(kib /tmp) $(kib /tmp/deep/er)" = "8192 1024"'
grep -E ' / | /scratch | /tmp| /dev/shm ' /proc/mounts
EOF
)" '{"readonlyRootFilesystem": true,
     "linuxParameters": {"sharedMemorySize": 32, "tmpfs": [{"containerPath": "/scratch", "size": 16, "mountOptions": ["exec"]},
                         {"containerPath": "/tmp/deep/er", "size": 1}, {"containerPath": "/tmp", "size": 8}]}}'

# 3. Not privileged, with a capability added and one dropped; ulimits; a writable root; no init.
launch caps "$(
	cat <<'EOF'
k 1 eval '! has_cap 21 && ! mount -t tmpfs x /mnt 2>/dev/null'
echo x >/tmp/f
k 2 eval '! has_cap 0 && ! chown 1 /tmp/f 2>/dev/null'
k 4 eval 'has_cap 12 && ip addr add 10.99.0.1/32 dev lo'
k 8 eval 'has_cap 5 && has_cap 10 && ! has_cap 13'
k 16 test "$(ulimit -Sn) $(ulimit -Hn) $(ulimit -c)" = "1024 4096 unlimited"
k 32 touch /x
k 64 test $$ = 1
grep Cap /proc/self/status
EOF
)" '{"linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["CHOWN"]}},
     "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}, {"name": "core", "softLimit": -1, "hardLimit": -1}]}'

# 4. Privileged, with an init as PID 1.
launch privileged "$(
	cat <<'EOF'
k 1 has_cap 21
k 2 eval 'mount -t tmpfs x /mnt && touch /mnt/y'
k 4 eval 'tr "\0" " " </proc/1/cmdline | grep -q "^/dev/init -- sh -c"'
k 8 test $$ != 1
grep Cap /proc/self/status
tr '\0' ' ' </proc/1/cmdline
EOF
)" '{"privileged": true, "linuxParameters": {"initProcessEnabled": true}}'

# 5. A user by name, a working directory the image lacks, a ulimit above the agent's own hard
# limit, labels seen through the task metadata endpoint.
launch user "$(
	cat <<'EOF'
k 1 test "$(id -u):$(id -g)" = 1000:1000
k 2 eval 'id -G | grep -qw 10'
k 4 test "$HOME" = /home/app
k 8 test "$(pwd)" = /srv/work
k 16 test "$(ulimit -Sn) $(ulimit -Hn)" = "$WANT_NOFILE $WANT_NOFILE"
m=$(wget -q -O - "$ECS_CONTAINER_METADATA_URI_V4")
k 32 eval 'echo "$m" | grep -q "\"com.example.team\":\"blue\"" && echo "$m" | grep -q "\"com.example.tier\":\"web\""'
k 64 eval '! has_cap 0 && ! has_cap 5'
id; pwd; ulimit -n; echo "$m"
EOF
)" "{\"user\": \"app\", \"workingDirectory\": \"/srv/work\", \"environment\": [{\"name\": \"WANT_NOFILE\", \"value\": \"$AGENT_NOFILE\"}],
     \"ulimits\": [{\"name\": \"nofile\", \"softLimit\": 30000, \"hardLimit\": 40000}],
     \"dockerLabels\": {\"com.example.team\": \"blue\", \"com.example.tier\": \"web\"}}"

# 6. A numeric user and group the image does not know, the default nofile limit.
launch uidgid "$(
	cat <<'EOF'
k 1 test "$(id -u):$(id -g)" = 1234:5678
k 2 test "$HOME" = /
k 4 test "$(ulimit -Sn) $(ulimit -Hn)" = "$WANT_NOFILE $WANT_NOFILE"
id
EOF
)" "{\"user\": \"1234:5678\", \"environment\": [{\"name\": \"WANT_NOFILE\", \"value\": \"$((AGENT_NOFILE < 65535 ? AGENT_NOFILE : 65535))\"}]}"

# 7. Every capability dropped but one.
launch onlycap "$(
	cat <<'EOF'
k 1 test "$eff" = 0000000000000400
k 2 eval '! touch /x.$$ || ! chown 1 /x.$$'
grep Cap /proc/self/status
EOF
)" '{"linuxParameters": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}'

# 8. Not privileged, but with CAP_SYS_ADMIN added: the seccomp filter lets mount and unshare
# through with it.
launch sysadmin "$(
	cat <<'EOF'
k 1 eval 'has_cap 21 && ! has_cap 12'
k 2 eval 'mount -t tmpfs x /mnt && touch /mnt/y'
k 4 unshare -n true
grep -E 'Cap|Seccomp' /proc/self/status
EOF
)" '{"linuxParameters": {"capabilities": {"add": ["SYS_ADMIN"]}}}'

# 9. The host's network: its hostname and /etc/hosts, with extraHosts and dnsServers on top.
launch hostnet "$(
	cat <<'EOF'
k 1 grep -qE '^10\.1\.2\.3[[:space:]]+db\.internal$' /etc/hosts
k 2 eval 'grep -vE "db\.internal" /etc/hosts | cmp -s - /host-hosts'
k 4 test "$(hostname)" = "$WANT_HOST"
k 8 test "$(awk '/^nameserver/ {printf "%s ", $2}' /etc/resolv.conf)" = "10.9.9.9 "
cat /etc/hosts /etc/resolv.conf; hostname
EOF
)" "{\"environment\": [{\"name\": \"WANT_HOST\", \"value\": \"$(hostname)\"}], \"dnsServers\": [\"10.9.9.9\"],
     \"extraHosts\": [{\"hostname\": \"db.internal\", \"ipAddress\": \"10.1.2.3\"}]}" --network-mode host

# 10. Together: a read-only root, a user by name, a working directory the image lacks, an init.
launch together "$(
	cat <<'EOF'
k 1 test "$(id -u) $(pwd)" = "1000 /srv/ro"
k 2 eval 'tr "\0" " " </proc/1/cmdline | grep -q "^/dev/init -- sh -c"'
k 4 eval '! touch /srv/ro/x 2>/dev/null && touch /run/x'
id; pwd; mount
EOF
)" '{"user": "app", "workingDirectory": "/srv/ro", "readonlyRootFilesystem": true,
     "linuxParameters": {"initProcessEnabled": true, "tmpfs": [{"containerPath": "/run", "size": 8}]}}'

# All of them run to the end; then each check is one bit of its container's exit code.
for fam in "${!TASK[@]}"; do
	[ -n "${TASK[$fam]}" ] || continue
	ok "$fam: the task stops" wait_status "${TASK[$fam]}" STOPPED 60
	aws1 ecs describe-tasks --cluster "$C" --tasks "${TASK[$fam]}" >"$TMP/$fam.json"
	CODE[$fam]=$(jget "$TMP/$fam.json" "d['tasks'][0]['containers'][0].get('exitCode', '')" 2>/dev/null)
done

# bits FAMILY "BIT description"...: one test per check; a failed one shows the container's output.
bits() {
	local fam=$1 code=${CODE[$1]:-} shown='' b desc spec
	shift
	for spec in "$@"; do
		b=${spec%% *} desc=${spec#* }
		if [[ "$code" =~ ^[0-9]+$ ]] && [ "$code" -lt 128 ] && [ $((code & b)) = 0 ]; then
			check "$fam: $desc" true
			continue
		fi
		check "$fam: $desc (exit code ${code:-none})" false
		[ -n "$shown" ] && continue
		shown=1
		jget "$TMP/$fam.json" "'%s; %s' % (d['tasks'][0].get('stoppedReason'), d['tasks'][0]['containers'][0].get('reason'))" |
			sed 's/^/#   /'
		aws1 logs get-log-events --log-group-name /t93 --log-stream-name "t93/app/${TASK[$fam]##*/}" \
			--query 'events[].message' --output text 2>&1 | tr '\t' '\n' | sed 's/^/#   /'
	done
}
bits names "1 extraHosts: db.internal is 10.1.2.3 in /etc/hosts" "2 ... and v6.internal fd00::5" \
	"4 dnsServers are the only nameservers, in order" "8 dnsSearchDomains are the search list" \
	"16 hostname, /etc/hostname and HOSTNAME are the definition's hostname" \
	"32 /etc/hosts maps the hostname to the container's own address"
bits readonly "1 readonlyRootFilesystem: writing to / fails with EROFS" "2 the tmpfs is writable" \
	"4 ... 16 MiB" "8 ... nosuid,nodev, and exec as its mountOptions ask" "16 sharedMemorySize: /dev/shm is 32 MiB" \
	"32 /etc/hosts and /etc/resolv.conf are read-only with the root" \
	"64 /dev/shm is writable; a tmpfs inside another is mounted after it whatever their order"
bits caps "1 not privileged: no CAP_SYS_ADMIN, mount fails" "2 capabilities.drop CHOWN: absent, chown fails" \
	"4 capabilities.add NET_ADMIN: present, ip addr add works" "8 the default set otherwise (KILL, NET_BIND_SERVICE; no NET_RAW)" \
	"16 ulimits: nofile 1024:4096, core unlimited" "32 the root is writable by default" \
	"64 without initProcessEnabled the command is PID 1"
bits privileged "1 privileged: CAP_SYS_ADMIN" "2 ... mount works" "4 initProcessEnabled: PID 1 is the init, running the command" \
	"8 ... which is not PID 1"
bits user "1 user app: uid and gid 1000 from the image's /etc/passwd" "2 ... with its supplementary group wheel" \
	"4 ... HOME from /etc/passwd" "8 workingDirectory (created when the image lacks it)" \
	"16 ulimit nofile 30000:40000 lowered to the agent's hard limit $AGENT_NOFILE" \
	"32 dockerLabels in the task metadata endpoint's Labels" "64 a non-root user has no effective capabilities"
bits uidgid "1 user 1234:5678 (not in the image)" "2 ... HOME is /" \
	"4 nofile by default: 65535 (Fargate's), lowered to the agent's hard limit"
bits together "1 a read-only root: user app in a working directory made for it" "2 ... with an init as PID 1" \
	"4 ... the root read-only, the tmpfs writable by the user"
bits sysadmin "1 capabilities.add SYS_ADMIN (not privileged): present, no other added" "2 ... mount works" \
	"4 ... unshare works"
bits hostnet "1 host network: extraHosts in /etc/hosts" "2 ... after the host's own entries" "4 ... the host's hostname" \
	"8 ... dnsServers"
bits onlycap "1 capabilities drop ALL, add NET_BIND_SERVICE: exactly that one" "2 ... chown fails"
check "the agent logged the lowered ulimit" grep -q "ulimit nofile 30000:40000 lowered to $AGENT_NOFILE:$AGENT_NOFILE" "$TMP/agent.log"

# Nothing left behind.
sleep 1
RT=$AGENT_STATE/crun-runtime
check "no container left in crun's state" bash -c "[ -z \"\$(ls -A $RT/crun/crun 2>/dev/null)\" ]"
check "no task directory left" bash -c "[ -z \"\$(ls -A $RT/tasks 2>/dev/null)\" ]"
check "no network namespace left" bash -c "[ -z \"\$(ls -A $RT/netns 2>/dev/null)\" ]"
check "no mount left under the agent's state" bash -c "! awk '{print \$5}' /proc/self/mountinfo | grep '^$AGENT_STATE/' | grep -vx '$RT/netns'"
check "no veth left on the test bridge" bash -c "[ -z \"\$(ip -o link show master $BRIDGE 2>/dev/null)\" ]"
check "no cgroup of these tasks left" bash -c "for a in ${TASK[*]}; do for d in /sys/fs/cgroup/*/gantry/\${a##*/} /sys/fs/cgroup/gantry/\${a##*/}; do [ ! -e \$d ] || exit 1; done; done"
check "no sanitizer report in the agent log" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' $TMP/agent.log"
done_testing
