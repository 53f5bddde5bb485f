#!/bin/bash
# Blob garbage collection: once no image of a repository refers to a blob it stops being served
# there, and once no repository links it the file leaves the disk; a blob another repository still
# uses stays, as does an upload younger than the grace period. The collector runs every second here
# with a two-second grace period (GANTRY_REGISTRY_GC_INTERVAL_S / _GRACE_S).
source "$(dirname "$0")/lib.sh"
command -v skopeo >/dev/null || { echo "1..0 # SKIP skopeo is not installed"; exit 0; }
[ -x /bin/busybox ] || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
export GANTRY_REGISTRY_GC_INTERVAL_S=1 GANTRY_REGISTRY_GC_GRACE_S=2
start_server
HOST=${ENDPOINT#http://}
sk() { skopeo --override-arch amd64 --override-os linux "$@"; }
BLOBDIR=$TMP/data/registry/sha256
on_disk() { [ -f "$BLOBDIR/${1:7:2}/${1:7}" ]; }
# eventually SECONDS CMD...: succeeds once CMD does, polling for at most SECONDS.
eventually() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}
gone() { ! on_disk "$1"; }
# The layer and config digests of an OCI layout made by mkoci.py.
blobs_of() {
	python3 - "$1" <<'EOF'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/index.json"))["manifests"][0]["digest"]
man = json.load(open(d + "/blobs/sha256/" + m[7:]))
print(man["layers"][0]["digest"], man["config"]["digest"])
EOF
}
code_of() { curl -s -o /dev/null -w '%{http_code}' -u "AWS:$PW" -I "$ENDPOINT/v2/$1/blobs/$2"; }

ok "create-repository ga" aws1 ecr create-repository --repository-name ga
ok "create-repository gb" aws1 ecr create-repository --repository-name gb
PW=$(aws1 ecr get-login-password)
e2epy "$E2E_DIR/mkoci.py" "$TMP/oci1" v1 >/dev/null
e2epy "$E2E_DIR/mkoci.py" "$TMP/oci2" v2 >/dev/null
read -r L1 C1 < <(blobs_of "$TMP/oci1")
read -r L2 C2 < <(blobs_of "$TMP/oci2")
ok "push v1 to ga" sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/oci1:v1" "docker://$HOST/ga:v1"
ok "push v2 to ga" sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/oci2:v2" "docker://$HOST/ga:v2"
ok "push v1 to gb too" sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/oci1:v1" "docker://$HOST/gb:v1"
check "each blob is stored once" test "$(find "$BLOBDIR" -type f | wc -l)" -eq 4
sleep 3 # past the grace period: only references keep blobs now
check "blobs images refer to stay past the grace period" bash -c "$(declare -f on_disk); BLOBDIR='$BLOBDIR'; on_disk $L1 && on_disk $C1 && on_disk $L2 && on_disk $C2"

ok "batch-delete-image ga:v2" aws1 ecr batch-delete-image --repository-name ga --image-ids imageTag=v2
check "v2's layer leaves the disk" eventually 20 gone "$L2"
check "... and its config" eventually 5 gone "$C2"
check "ga no longer serves v2's layer (404)" test "$(code_of ga "$L2")" = 404
check "v1's layer is still served by ga" test "$(code_of ga "$L1")" = 200

ok "batch-delete-image ga:v1" aws1 ecr batch-delete-image --repository-name ga --image-ids imageTag=v1
check "ga stops serving v1's layer once no image of ga refers to it" eventually 20 \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'AWS:$PW' -I '$ENDPOINT/v2/ga/blobs/$L1')\" = 404 ]"
sleep 3
check "gb still uses v1's layer: it stays on disk" on_disk "$L1"
check "... and gb serves it" test "$(code_of gb "$L1")" = 200
ok "skopeo still copies gb:v1 out" sk copy --src-tls-verify=false --src-creds "AWS:$PW" "docker://$HOST/gb:v1" "oci:$TMP/copy:v1"

ok "delete-repository gb --force" aws1 ecr delete-repository --repository-name gb --force
check "with no repository left using them, v1's blobs leave the disk" eventually 20 gone "$L1"
check "... the config too" eventually 5 gone "$C1"

# An upload that no manifest refers to: kept for the grace period, then collected.
ok "upload a lone blob to ga" e2epy - "$ENDPOINT" "$PW" <<'EOF'
import base64, hashlib, sys, urllib.request
ep, pw = sys.argv[1], sys.argv[2]
auth = "Basic " + base64.b64encode(("AWS:" + pw).encode()).decode()
data = b"a lone blob\n"
dg = "sha256:" + hashlib.sha256(data).hexdigest()
r = urllib.request.urlopen(urllib.request.Request(ep + "/v2/ga/blobs/uploads/?digest=" + dg, data=data, method="POST",
                           headers={"Authorization": auth, "Content-Type": "application/octet-stream"}))
assert r.status == 201, r.status
print(dg)
EOF
LONE=$(tail -n1 "$TMP/out")
check "it is on disk right after the upload" on_disk "$LONE"
check "it is collected after the grace period" eventually 20 gone "$LONE"
check "no blob is left on disk" test "$(find "$BLOBDIR" -type f | wc -l)" -eq 0

stop_server
start_server
ok "after a restart the registry answers" aws1 ecr describe-repositories --repository-names ga
check "no blob came back" test "$(find "$BLOBDIR" -type f | wc -l)" -eq 0
done_testing
