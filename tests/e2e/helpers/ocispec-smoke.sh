#!/bin/bash
# Runs specs from ocispec_build() under the real crun with a busybox rootfs, and checks what the
# container sees: user, limits, capabilities, seccomp, mounts, init. Not part of tests/run.sh yet:
# it needs root, crun and busybox-static (apt-get install -y crun busybox-static tini). Prints TAP;
# skips (exit 0) when a requirement is missing. Extra crun global options: CRUN_FLAGS.
# Usage: tests/e2e/helpers/ocispec-smoke.sh   (after `make build/gantry`)
set -u
cd "$(dirname "$0")/../../.."
ROOT=$PWD

skip() { echo "1..0 # SKIP $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root"
command -v crun >/dev/null || skip "needs crun"
BUSYBOX=$(command -v busybox) || skip "needs busybox-static"
ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' || skip "needs a static busybox (busybox-static)"
[ -f build/libgantry.a ] || skip "needs build/libgantry.a (make build/gantry)"
INIT=$(command -v tini-static || true)

WORK=$(mktemp -d /tmp/ocispec-smoke.XXXXXX)
CG="gantry-smoke-$$"
IDS=()
cleanup() {
	for id in "${IDS[@]}"; do crun ${CRUN_FLAGS:-} delete -f "$id" >/dev/null 2>&1; done
	find /sys/fs/cgroup -depth -type d -path "*/$CG/*" -exec rmdir {} \; 2>/dev/null
	find /sys/fs/cgroup -depth -type d -name "$CG" -exec rmdir {} \; 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -Isrc -o "$WORK/gen" tests/e2e/helpers/ocispec-gen.c build/libgantry.a \
	$(pkg-config --libs libuv libmicrohttpd jansson sqlite3 libcrypto libcurl libarchive zlib) -lm -lpthread ||
	{ echo "not ok 1 - build ocispec-gen"; exit 1; }

R="$WORK/rootfs"
mkdir -p "$R/bin" "$R/etc" "$R/mnt"
cp "$BUSYBOX" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nwheel:x:10:root,app\napp:x:1000:\n' >"$R/etc/group"
printf '127.0.0.1\tlocalhost\n10.9.8.7\tsmoke-host\n' >"$WORK/hosts"
printf 'nameserver 10.9.8.1\n' >"$WORK/resolv"

n=0; failed=0
check() { # name, pattern, file
	n=$((n + 1))
	if grep -qE -- "$2" "$3"; then echo "ok $n - $1"; else
		echo "not ok $n - $1 (no line matching '$2')"; sed 's/^/# /' "$3"; failed=$((failed + 1)); fi
}

run() { # name, def file, gen options...
	local name=$1 def=$2; shift 2
	local b="$WORK/$name"
	mkdir -p "$b"
	ln -s "$R" "$b/rootfs"
	if ! "$WORK/gen" "$def" "$R" "/$CG/$name" "$@" >"$b/config.json" 2>"$b/warnings"; then
		n=$((n + 1)); echo "not ok $n - $name: ocispec_build"; sed 's/^/# /' "$b/warnings"
		failed=$((failed + 1)); return 1
	fi
	IDS+=("smoke-$$-$name")
	(cd "$b" && timeout 30 crun ${CRUN_FLAGS:-} run "smoke-$$-$name") >"$b/out" 2>&1
	echo "exit=$?" >>"$b/out"
	cat "$b/warnings" >>"$b/out"
}

cat >"$WORK/plain.json" <<'EOF'
{"name":"plain","image":"busybox","cpu":256,"memory":128,"memoryReservation":64,
 "entryPoint":["/bin/sh","-c"],
 "command":["id; echo HOME=$HOME; echo META=$ECS_CONTAINER_METADATA_URI_V4; ulimit -Hn; ulimit -Hc; grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status; busybox unshare -U true 2>/dev/null; echo unshare=$?; touch /x 2>/dev/null; echo touch=$?; df -k /dev/shm | tail -1; mount | grep ' /run '; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight 2>/dev/null; cat /etc/hosts; cat /proc/sys/net/ipv4/ping_group_range; hostname"],
 "user":"app",
 "ulimits":[{"name":"core","softLimit":-1,"hardLimit":-1}],
 "linuxParameters":{"sharedMemorySize":32,"tmpfs":[{"containerPath":"/run","size":16,"mountOptions":["exec"]}]},
 "readonlyRootFilesystem":true}
EOF
run plain "$WORK/plain.json" --hosts "$WORK/hosts" --resolv "$WORK/resolv"
O="$WORK/plain/out"
check "plain: exits 0" '^exit=0$' "$O"
check "plain: user app from /etc/passwd with its groups" 'uid=1000\(app\) gid=1000\(app\) groups=10\(wheel\)' "$O"
check "plain: HOME from /etc/passwd" '^HOME=/home/app$' "$O"
check "plain: injected env" '^META=http://169.254.170.2/v4/smoke$' "$O"
check "plain: ulimit core unlimited (-1)" '^unlimited$' "$O"
check "plain: no new privileges" 'NoNewPrivs:[[:space:]]+1' "$O"
check "plain: seccomp filter on" 'Seccomp:[[:space:]]+2' "$O"
check "plain: unshare refused" '^unshare=1$' "$O"
check "plain: read-only root" '^touch=1$' "$O"
check "plain: /dev/shm is 32 MiB" '^shm +32768 ' "$O"
check "plain: /run tmpfs 16 MiB" 'tmpfs on /run type tmpfs .*size=16384k' "$O"
check "plain: memory limit 128 MiB" '^134217728$' "$O"
check "plain: /etc/hosts bind-mounted" 'smoke-host' "$O"
check "plain: ping without CAP_NET_RAW" '^0[[:space:]]+2147483647$' "$O"

cat >"$WORK/priv.json" <<'EOF'
{"name":"priv","image":"busybox","privileged":true,"hostname":"smoke-1",
 "command":["/bin/sh","-c","echo pid1=$(tr '\\0' ' ' </proc/1/cmdline); grep -E 'CapEff|NoNewPrivs|Seccomp:' /proc/self/status; busybox mount -t tmpfs x /mnt && echo mounted; hostname"],
 "linuxParameters":{"initProcessEnabled":true}}
EOF
if [ -n "$INIT" ]; then
	run priv "$WORK/priv.json" --init "$INIT" --netns host
	O="$WORK/priv/out"
	check "privileged: exits 0" '^exit=0$' "$O"
	check "privileged: init is PID 1" '^pid1=/dev/init -- /bin/sh' "$O"
	check "privileged: no seccomp" 'Seccomp:[[:space:]]+0' "$O"
	check "privileged: may mount" '^mounted$' "$O"
	check "privileged: hostname" '^smoke-1$' "$O"
else
	n=$((n + 1)); echo "ok $n - privileged # SKIP needs tini-static"
fi

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
