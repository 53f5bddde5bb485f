#!/bin/bash
# The registry end to end: ECR repositories through both AWS CLIs, skopeo pushing an OCI layout and
# a docker-archive into gantry with the ECR password (token flow) and copying them back out
# byte-identical by digest, Basic auth and refusals on the wire (no credentials, another account, a
# repository that does not exist, an upload whose bytes do not match its digest), a chunked upload
# resumed after its connection broke, ranges, tag immutability, ECR image calls, deletion, and a
# server restart that keeps everything.
source "$(dirname "$0")/lib.sh"
command -v skopeo >/dev/null || { echo "1..0 # SKIP skopeo is not installed"; exit 0; }
[ -x /bin/busybox ] || { echo "1..0 # SKIP busybox-static is not installed"; exit 0; }
start_server
HOST=${ENDPOINT#http://}
reg() { e2epy "$E2E_DIR/regreq.py" "$ENDPOINT" "$@"; }
sk() { skopeo --override-arch amd64 --override-os linux "$@"; }
# refused DESC REGEX CMD...: passes when CMD fails with stderr matching the extended regex.
refused() {
	local desc=$1 re=$2; shift 2
	T_N=$((T_N + 1))
	if "$@" >"$TMP/out" 2>"$TMP/err"; then
		echo "not ok $T_N - $desc (succeeded)"; T_FAILED=$((T_FAILED + 1))
	elif grep -qE -- "$re" "$TMP/err"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc (expected /$re/)"; T_FAILED=$((T_FAILED + 1))
		sed 's/^/#   /' "$TMP/err" | head -20
	fi
}

ok "create-repository app/web (CLI v1)" aws1 ecr create-repository --repository-name app/web
jcheck "the repository's ARN, URI and defaults" "$TMP/out" \
	"d['repository']['repositoryArn'] == 'arn:aws:ecr:us-east-1:$ACCT_A:repository/app/web' and d['repository']['repositoryUri'] == '$HOST/app/web' and d['repository']['imageTagMutability'] == 'MUTABLE'"
fails_with "a second create-repository app/web" RepositoryAlreadyExistsException aws1 ecr create-repository --repository-name app/web
fails_like "an invalid repository name" InvalidParameterException "repositoryName" aws1 ecr create-repository --repository-name Bad_Name
if have_aws2; then
	ok "create-repository other (CLI v2) with tags" aws2 ecr create-repository --repository-name other --tags Key=team,Value=a
	ok "describe-repositories (CLI v2)" aws2 ecr describe-repositories
	jcheck "both repositories listed, sorted" "$TMP/out" "[r['repositoryName'] for r in d['repositories']] == ['app/web', 'other']"
fi
fails_with "describe-repositories of a missing one" RepositoryNotFoundException aws1 ecr describe-repositories --repository-names nope

ok "get-login-password" aws1 ecr get-login-password
PW=$(cat "$TMP/out")
PW_B=$(AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$AWS1" --endpoint-url "$ENDPOINT" ecr get-login-password)
ok "get-authorization-token" aws1 ecr get-authorization-token
jcheck "the token is base64 AWS:<password>, valid 12 h, with the proxy endpoint" "$TMP/out" \
	"__import__('base64').b64decode(d['authorizationData'][0]['authorizationToken']).decode().startswith('AWS:gantry1.') and d['authorizationData'][0]['proxyEndpoint'] == '$ENDPOINT' and 11.9*3600 < d['authorizationData'][0]['expiresAt'] - __import__('time').time() <= 12*3600"

code=$(curl -s -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' "$ENDPOINT/v2/")
check "GET /v2/ without credentials: 401" test "$code" = 401
check "... with a Bearer challenge naming the token endpoint" grep -qi "^WWW-Authenticate: Bearer realm=\"$ENDPOINT/v2/token\"" "$TMP/hdrs"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:$PW" "$ENDPOINT/v2/")
check "GET /v2/ with Basic AWS:<password>: 200" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:${PW%?}x" "$ENDPOINT/v2/")
check "a tampered password: 401" test "$code" = 401

# Images from Debian's busybox-static.
SRC1=$(e2epy "$E2E_DIR/mkoci.py" "$TMP/oci1" v1)
SRC2=$(e2epy "$E2E_DIR/mkoci.py" "$TMP/oci2" v2)
ok "skopeo copies an OCI layout into gantry (ECR password, token flow)" \
	sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/oci1:v1" "docker://$HOST/app/web:v1"
ok "skopeo inspect" sk inspect --tls-verify=false --creds "AWS:$PW" "docker://$HOST/app/web:v1"
jcheck "the manifest digest is the source's" "$TMP/out" "d['Digest'] == '$SRC1' and d['RepoTags'] == ['v1']"
ok "skopeo copies it back out to an OCI layout" \
	sk copy --src-tls-verify=false --src-creds "AWS:$PW" "docker://$HOST/app/web:v1" "oci:$TMP/back1:v1"
jcheck "byte-identical by digest" "$TMP/back1/index.json" "d['manifests'][0]['digest'] == '$SRC1'"
check "the layer came back identical" cmp -s "$TMP/oci1/blobs/sha256/$(ls -S "$TMP/oci1/blobs/sha256" | head -1)" "$TMP/back1/blobs/sha256/$(ls -S "$TMP/oci1/blobs/sha256" | head -1)"

ok "skopeo makes a docker-archive" sk copy "oci:$TMP/oci2:v2" "docker-archive:$TMP/v2.tar:app/web:v2"
ok "skopeo copies the docker-archive into gantry" \
	sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "docker-archive:$TMP/v2.tar" "docker://$HOST/app/web:v2"
ok "inspect --raw of v2" sk inspect --raw --tls-verify=false --creds "AWS:$PW" "docker://$HOST/app/web:v2"
cp "$TMP/out" "$TMP/v2.manifest"
jcheck "a Docker schema 2 manifest" "$TMP/v2.manifest" "d['mediaType'] == 'application/vnd.docker.distribution.manifest.v2+json'"
ok "copy v2 back out" sk copy --src-tls-verify=false --src-creds "AWS:$PW" "docker://$HOST/app/web:v2" "dir:$TMP/back2"
check "the manifest came back byte-identical" cmp -s "$TMP/v2.manifest" "$TMP/back2/manifest.json"

refused "pushing to a repository that does not exist" "name unknown: The repository with name .nope. does not exist" \
	sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/oci1:v1" "docker://$HOST/nope:v1"
refused "another account cannot pull it" "name unknown: The repository with name .app/web. does not exist in the registry with id .$ACCT_B." \
	sk inspect --tls-verify=false --creds "AWS:$PW_B" "docker://$HOST/app/web:v1"
refused "no credentials: refused" "unauthorized" \
	sk inspect --tls-verify=false --no-creds "docker://$HOST/app/web:v1"

out=$(reg "$PW" badput app/web)
check "an upload whose bytes do not match its digest: 400 DIGEST_INVALID, nothing stored ($out)" test "$out" = "400 DIGEST_INVALID 404 404"
out=$(reg "$PW" resume app/web 3000000)
check "a chunked upload resumed after a broken connection completes ($out)" test "${out%% *}" = ok

LAYER=sha256:$(ls -S "$TMP/oci1/blobs/sha256" | head -1)
out=$(reg "$PW" get "/v2/app/web/blobs/$LAYER" "bytes=10-19")
check "a Range GET: 206 with 10 bytes ($out)" test "$(echo "$out" | cut -d' ' -f1-2)" = "206 10"
out=$(reg "$PW" get "/v2/app/web/tags/list?n=1")
check "tags/list with n=1" test "${out%% *}" = 200
code=$(curl -s -o "$TMP/body" -u "AWS:$PW" "$ENDPOINT/v2/app/web/tags/list")
jcheck "tags/list" "$TMP/body" "d == {'name': 'app/web', 'tags': ['v1', 'v2']}"
curl -s -o "$TMP/body" -u "AWS:$PW" "$ENDPOINT/v2/_catalog"
jcheck "_catalog lists the account's repositories" "$TMP/body" "'app/web' in d['repositories'] and all(not r.startswith('nope') for r in d['repositories'])"

ok "describe-images" aws1 ecr describe-images --repository-name app/web
jcheck "two images with their tags, sizes and media types" "$TMP/out" \
	"sorted(t for i in d['imageDetails'] for t in i['imageTags']) == ['v1', 'v2'] and all(i['imageSizeInBytes'] > 100000 for i in d['imageDetails']) and any(i['imageDigest'] == '$SRC1' for i in d['imageDetails'])"
ok "list-images --filter tagStatus=TAGGED" aws1 ecr list-images --repository-name app/web --filter tagStatus=TAGGED
jcheck "both tags" "$TMP/out" "sorted(i['imageTag'] for i in d['imageIds']) == ['v1', 'v2']"
ok "batch-get-image v1" aws1 ecr batch-get-image --repository-name app/web --image-ids imageTag=v1 imageTag=nope
jcheck "the manifest, and a failure for the missing tag" "$TMP/out" \
	"d['images'][0]['imageId']['imageDigest'] == '$SRC1' and d['failures'][0]['failureCode'] == 'ImageNotFound'"
ok "batch-check-layer-availability" aws1 ecr batch-check-layer-availability --repository-name app/web --layer-digests "$LAYER" sha256:$(printf '%064d' 0)
jcheck "one AVAILABLE, one UNAVAILABLE" "$TMP/out" "[l['layerAvailability'] for l in d['layers']] == ['AVAILABLE', 'UNAVAILABLE']"

ok "put-image-tag-mutability IMMUTABLE" aws1 ecr put-image-tag-mutability --repository-name app/web --image-tag-mutability IMMUTABLE
refused "pushing another image over an immutable tag" "tag invalid: The image tag .v1. already exists" \
	sk copy --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/oci2:v2" "docker://$HOST/app/web:v1"
ok "put-image-tag-mutability MUTABLE" aws1 ecr put-image-tag-mutability --repository-name app/web --image-tag-mutability MUTABLE

stop_server
start_server
ok "after a restart, the image is still there" sk inspect --tls-verify=false --creds "AWS:$PW" "docker://$HOST/app/web:v1"
jcheck "same digest" "$TMP/out" "d['Digest'] == '$SRC1'"

fails_with "delete-repository with images" RepositoryNotEmptyException aws1 ecr delete-repository --repository-name app/web
ok "batch-delete-image v2 (its last tag)" aws1 ecr batch-delete-image --repository-name app/web --image-ids imageTag=v2
ok "list-images" aws1 ecr list-images --repository-name app/web
jcheck "only v1 is left" "$TMP/out" "[i.get('imageTag') for i in d['imageIds']] == ['v1']"
refused "v2 can no longer be pulled" "manifest unknown" \
	sk inspect --tls-verify=false --creds "AWS:$PW" "docker://$HOST/app/web:v2"
ok "delete-repository --force" aws1 ecr delete-repository --repository-name app/web --force
fails_with "it is gone" RepositoryNotFoundException aws1 ecr describe-images --repository-name app/web
no_sanitizer_report
done_testing
