#!/bin/bash
# `gantry image import` end to end: a root filesystem made of Debian's busybox-static becomes an
# image in gantry's registry (--create-repository, ECR password, /v2/ push), seen by both AWS CLIs
# (describe-images) and by skopeo (inspect, copy back out byte-identical by digest, the layer holds
# busybox); the same tree gives the same digest again, as a tar.gz too, and through --oci-layout;
# refusals: a missing repository, bad or missing credentials, another account, bad options.
source "$(dirname "$0")/lib.sh"
command -v skopeo >/dev/null || { echo "1..0 # SKIP skopeo is not installed"; exit 0; }
[ -x /bin/busybox ] || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
start_server
HOST=${ENDPOINT#http://}
sk() { skopeo --override-arch amd64 --override-os linux "$@"; }
imp() { "$GANTRY_BIN" image import "$@"; }
# refused DESC REGEX CMD...: passes when CMD exits 1 with stderr matching the extended regex.
refused() {
	local desc=$1 re=$2 rc; shift 2
	T_N=$((T_N + 1))
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "not ok $T_N - $desc (succeeded)"; T_FAILED=$((T_FAILED + 1))
	elif [ "$rc" -eq 1 ] && grep -qE -- "$re" "$TMP/err"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc (exit $rc, expected 1 and /$re/)"; T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$TMP/err" | head -20
	fi
}

# The root filesystem: busybox and the applets the image uses as symlinks, a page to serve.
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/www" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh httpd cat echo ls wget; do ln -s busybox "$ROOTFS/bin/$a"; done
echo "hello from gantry" >"$ROOTFS/www/index.html"
chmod 1777 "$ROOTFS/tmp"
OPTS=(--cmd '["httpd", "-f", "-p", "8080", "-h", "/www"]' --env PATH=/bin --env GREETING=hello
	--workdir /www --expose 8080 --label org.example.suite=t70)

refused "import into a repository that does not exist" \
	"repository 'busybox' does not exist .*create-repository --repository-name busybox.*or pass --create-repository" \
	imp "${OPTS[@]}" "$ROOTFS" busybox:1.0
ok "import with --create-repository" imp --create-repository "${OPTS[@]}" "$ROOTFS" busybox:1.0
check "both blobs were sent" grep -q "0 of 2 blobs were there already" "$TMP/err"
REF=$(cat "$TMP/out")
DIGEST=${REF##*@}
check "it prints the pushed reference with its digest ($REF)" \
	grep -qxE "$HOST/busybox:1\.0@sha256:[0-9a-f]{64}" "$TMP/out"

ok "describe-images (CLI v1)" aws1 ecr describe-images --repository-name busybox
jcheck "one image, tag 1.0, the printed digest, OCI media types" "$TMP/out" \
	"len(d['imageDetails']) == 1 and d['imageDetails'][0]['imageDigest'] == '$DIGEST' and d['imageDetails'][0]['imageTags'] == ['1.0'] and d['imageDetails'][0]['imageManifestMediaType'] == 'application/vnd.oci.image.manifest.v1+json' and d['imageDetails'][0]['artifactMediaType'] == 'application/vnd.oci.image.config.v1+json' and d['imageDetails'][0]['imageSizeInBytes'] > 500000"
if have_aws2; then
	ok "describe-images (CLI v2)" aws2 ecr describe-images --repository-name busybox --image-ids imageTag=1.0
	jcheck "the same digest" "$TMP/out" "d['imageDetails'][0]['imageDigest'] == '$DIGEST'"
fi

ok "get-login-password" aws1 ecr get-login-password
PW=$(cat "$TMP/out")
ok "skopeo inspect" sk inspect --tls-verify=false --creds "AWS:$PW" "docker://$HOST/busybox:1.0"
jcheck "skopeo sees the digest, amd64/linux, one layer" "$TMP/out" \
	"d['Digest'] == '$DIGEST' and d['Architecture'] == 'amd64' and d['Os'] == 'linux' and len(d['Layers']) == 1"
ok "skopeo inspect --config" sk inspect --config --tls-verify=false --creds "AWS:$PW" "docker://$HOST/busybox:1.0"
jcheck "the config carries --cmd, --env, --workdir, --expose, --label" "$TMP/out" \
	"d['config']['Cmd'] == ['httpd', '-f', '-p', '8080', '-h', '/www'] and d['config']['Env'] == ['PATH=/bin', 'GREETING=hello'] and d['config']['WorkingDir'] == '/www' and d['config']['ExposedPorts'] == {'8080/tcp': {}} and d['config']['Labels'] == {'org.example.suite': 't70'} and d['created'] == '1970-01-01T00:00:00Z'"
ok "skopeo copies it back out to an OCI layout" \
	sk copy --src-tls-verify=false --src-creds "AWS:$PW" "docker://$HOST/busybox:1.0" "oci:$TMP/back:1.0"
jcheck "byte-identical by digest" "$TMP/back/index.json" "d['manifests'][0]['digest'] == '$DIGEST'"
LAYER=$TMP/back/blobs/sha256/$(ls -S "$TMP/back/blobs/sha256" | head -1)
mkdir -p "$TMP/x"
ok "the layer is a gzip tar" tar -xzf "$LAYER" -C "$TMP/x"
check "it holds Debian's busybox, byte for byte" cmp -s /bin/busybox "$TMP/x/bin/busybox"
check "... its applet links and the page" test "$(readlink "$TMP/x/bin/httpd")" = busybox -a -f "$TMP/x/www/index.html"
tar -tvzf "$LAYER" >"$TMP/listing"
check "entries are sorted, owned by 0/0, dated 1970-01-01" \
	python3 -c "import sys; l=[x.split() for x in open(sys.argv[1])]; n=[x[5] for x in l]; sys.exit(0 if n == sorted(n) and all(x[1] == '0/0' and x[3] == '1970-01-01' for x in l) else 1)" "$TMP/listing"

# Reproducible: new times on every file, the same options: the same digest.
find "$ROOTFS" -exec touch -h -d '2021-02-03 04:05:06' {} +
ok "import the same tree again as 1.1" imp "${OPTS[@]}" "$ROOTFS" busybox:1.1
check "the same digest ($(cat "$TMP/out"))" test "${REF%:1.0@*}:1.1@$DIGEST" = "$(cat "$TMP/out")"
check "... and no blob sent again (HEAD found both)" grep -q "2 of 2 blobs were there already" "$TMP/err"
tar -C "$ROOTFS" -czf "$TMP/rootfs.tar.gz" .
ok "import a tar.gz of the tree" imp "${OPTS[@]}" "$TMP/rootfs.tar.gz" "$HOST/busybox:tgz"
check "the same digest as the directory's" test "$(cat "$TMP/out")" = "$HOST/busybox:tgz@$DIGEST"
ok "import without --cmd" imp "$ROOTFS" busybox:bare
check "another image" test "${DIGEST}" != "$(sed 's/.*@//' "$TMP/out")"
ok "list-images" aws1 ecr list-images --repository-name busybox
jcheck "four tags, two digests" "$TMP/out" \
	"sorted(i['imageTag'] for i in d['imageIds']) == ['1.0', '1.1', 'bare', 'tgz'] and len(set(i['imageDigest'] for i in d['imageIds'])) == 2"

# An OCI layout without pushing, then skopeo pushes it: still the same image.
ok "--oci-layout without a repository" imp "${OPTS[@]}" --oci-layout "$TMP/layout" "$ROOTFS"
check "prints the manifest digest" test "$(cat "$TMP/out")" = "$DIGEST"
ok "skopeo copies the layout into gantry" \
	sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/layout:latest" "docker://$HOST/busybox:fromlayout"
ok "skopeo inspect it" sk inspect --tls-verify=false --creds "AWS:$PW" "docker://$HOST/busybox:fromlayout"
jcheck "the same digest" "$TMP/out" "d['Digest'] == '$DIGEST'"

# Refusals.
refused "a wrong secret key" "InvalidSignatureException" \
	env AWS_SECRET_ACCESS_KEY=wrong "$GANTRY_BIN" image import "$ROOTFS" busybox:x
refused "an unknown access key" "UnrecognizedClientException" \
	env AWS_ACCESS_KEY_ID=GKIANOSUCHKEY0000000 "$GANTRY_BIN" image import "$ROOTFS" busybox:x
refused "no credentials" "no credentials: set AWS_ACCESS_KEY_ID" \
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$GANTRY_BIN" image import "$ROOTFS" busybox:x
refused "another account does not see the repository" "repository 'busybox' does not exist .*$ACCT_B" \
	env AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$GANTRY_BIN" image import "$ROOTFS" busybox:x
refused "a source that does not exist" "source '.*/nope': No such file" imp "$TMP/nope" busybox:x
refused "a file that is not a tar" "source '/bin/busybox': not a readable tar file" imp /bin/busybox busybox:x
refused "a bad --expose" "--expose 'http' is not PORT" imp --expose http "$ROOTFS" busybox:x
refused "a bad --cmd" "--cmd: .* is not a JSON array of strings" imp --cmd '["a", 1' "$ROOTFS" busybox:x
refused "a bad repository name" "Bad_Name" imp "$ROOTFS" Bad_Name:x
refused "another registry than the endpoint's" "names another registry" imp "$ROOTFS" registry.example:5000/busybox:x
refused "a server that is not there" "DescribeRepositories at http://127.0.0.1:1" \
	imp --endpoint http://127.0.0.1:1 "$ROOTFS" busybox:x
T_N=$((T_N + 1))
"$GANTRY_BIN" image import >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 2 ]; then echo "ok $T_N - no arguments: usage, exit 2"; else echo "not ok $T_N - no arguments: exit $rc"; T_FAILED=$((T_FAILED + 1)); fi
no_sanitizer_report
done_testing
