#!/bin/bash
# podman against gantry's registry as a user would drive it: `aws ecr get-login-password | podman
# login`, podman push into a repository made with `aws ecr create-repository`, `aws ecr
# describe-images` agreeing with the digest podman wrote, podman pull into empty storage and podman
# run of the pulled image, and refusals (a wrong password, a repository that does not exist,
# another account's repository, no credentials). podman keeps its storage, auth file and cgroups in
# this test's own places, and everything is removed at the end.
source "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || { echo "1..0 # SKIP podman is not installed"; exit 0; }
[ -x /bin/busybox ] || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
start_server
HOST=${ENDPOINT#http://}
PM=$TMP/podman
CGPARENT=/gantry-e2e-podman-$$
mkdir -p "$PM/tmp"
export REGISTRY_AUTH_FILE=$PM/auth.json
pm() {
	podman --root "$PM/root" --runroot "$PM/run" --tmpdir "$PM/tmp" --storage-driver vfs \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

# crun refuses to run while a controller sits in the cgroup v2 mount of a v1/v2 hybrid host ("drop
# all controllers from cgroupv2"). Mounting such a controller as a v1 hierarchy moves it out of v2;
# unmounting it (at the end) gives it back, though only once the kernel has let go of the v1
# hierarchy, which can be a while later: so the check runs again before each podman run.
CG_MOUNTS=()
fix_hybrid() {
	local c
	[ -s /sys/fs/cgroup/unified/cgroup.controllers ] || return 0
	for c in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
		mkdir -p "$PM/cg-$c" && mount -t cgroup -o "$c" cgroup "$PM/cg-$c" && CG_MOUNTS+=("$PM/cg-$c")
	done
}
podman_cleanup() {
	local m d
	pm rm -af >/dev/null 2>&1
	pm rmi -af >/dev/null 2>&1
	# The cgroups podman made under this test's parent, deepest first.
	for d in /sys/fs/cgroup/*"$CGPARENT"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	for m in "${CG_MOUNTS[@]}"; do umount "$m"; done
	rm -rf "$OCI"
	cleanup
}
trap podman_cleanup EXIT

# Rlimits above the process's own hard limits cannot be set without CAP_SYS_RESOURCE (podman's
# defaults are above this machine's), so the run asks for what the host allows.
RUN_OPTS=(--rm --network none --cgroup-parent "$CGPARENT" --ulimit "nofile=1024:1024" --ulimit "nproc=1024:1024")

ok "create-repository pm/app" aws1 ecr create-repository --repository-name pm/app
# podman names an image pulled from an OCI layout after its path, which must be lowercase.
OCI=/tmp/gantry-e2e-podman-oci-$$
e2epy "$E2E_DIR/mkoci.py" "$OCI" v1 >/dev/null
ok "get-login-password | podman login" bash -c \
	"'$AWS1' --endpoint-url '$ENDPOINT' ecr get-login-password | podman login --username AWS --password-stdin --tls-verify=false '$HOST'"
check "... podman says Login Succeeded" grep -q "Login Succeeded" "$TMP/out"
ok "podman login with a wrong password is refused" bash -c \
	"! echo gantry1.bad.bad | podman login --authfile '$PM/bad.json' --username AWS --password-stdin --tls-verify=false '$HOST'"

ok "podman pulls the busybox OCI layout into its storage" pm pull -q "oci:$OCI:v1"
IMG=$(tail -n1 "$TMP/out")
ok "podman push to gantry" pm push --tls-verify=false --digestfile "$PM/digest" "$IMG" "docker://$HOST/pm/app:v1"
PUSHED=$(cat "$PM/digest" 2>/dev/null)
check "... podman wrote the pushed digest" grep -qE '^sha256:[0-9a-f]{64}$' "$PM/digest"
ok "describe-images" aws1 ecr describe-images --repository-name pm/app
jcheck "ECR lists the image podman pushed, tagged v1, with podman's digest" "$TMP/out" \
	"[(i['imageDigest'], i.get('imageTags')) for i in d['imageDetails']] == [('$PUSHED', ['v1'])]"
if have_aws2; then
	ok "batch-get-image (CLI v2)" aws2 ecr batch-get-image --repository-name pm/app --image-ids imageTag=v1
	jcheck "... gives the manifest under podman's digest" "$TMP/out" \
		"d['images'][0]['imageId']['imageDigest'] == '$PUSHED' and 'layers' in __import__('json').loads(d['images'][0]['imageManifest'])"
fi

ok "podman removes its local images" pm rmi -af
ok "podman pull from gantry" pm pull --tls-verify=false "$HOST/pm/app:v1"
ok "podman image inspect" pm image inspect --format '{{.Digest}}' "$HOST/pm/app:v1"
check "... the pulled image has the pushed digest" test "$(cat "$TMP/out")" = "$PUSHED"
fix_hybrid
ok "podman run of the pulled image" pm run "${RUN_OPTS[@]}" "$HOST/pm/app:v1"
check "... prints the image's marker" grep -qx "image v1" "$TMP/out"
fix_hybrid
ok "podman run by digest" pm run "${RUN_OPTS[@]}" "$HOST/pm/app@$PUSHED" /bin/busybox echo by-digest
check "... runs the command given" grep -qx "by-digest" "$TMP/out"

ok "podman tag for a repository that does not exist" pm tag "$HOST/pm/app:v1" "$HOST/pm/nope:v1"
ok "podman push to it is refused: the repository does not exist" bash -c "podman --root '$PM/root' --runroot '$PM/run' \
	--tmpdir '$PM/tmp' --storage-driver vfs push --tls-verify=false '$HOST/pm/nope:v1' 2>&1 | grep -qiE 'name unknown.*does not exist'"
ok "no image appeared in pm/app's listing" aws1 ecr list-images --repository-name pm/app
jcheck "... still exactly one" "$TMP/out" "len(d['imageIds']) == 1"

ok "account B logs in" bash -c "AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY='$SECRET_B' '$AWS1' --endpoint-url '$ENDPOINT' \
	ecr get-login-password | podman login --authfile '$PM/b.json' --username AWS --password-stdin --tls-verify=false '$HOST'"
ok "account B cannot pull account A's image" bash -c "! REGISTRY_AUTH_FILE='$PM/b.json' podman --root '$PM/root' \
	--runroot '$PM/run' --tmpdir '$PM/tmp' --storage-driver vfs pull --tls-verify=false '$HOST/pm/app:v1'"
ok "podman logout" podman logout "$HOST"
ok "without credentials the pull is refused" bash -c "! podman --root '$PM/root' --runroot '$PM/run' \
	--tmpdir '$PM/tmp' --storage-driver vfs pull --tls-verify=false '$HOST/pm/app:v1'"
done_testing
