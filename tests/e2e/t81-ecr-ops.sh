#!/bin/bash
# ECR operations beyond repositories and images, end to end through both AWS CLIs and boto3: a
# layer pushed in parts through the ECR layer API and refusals of parts out of order, wrong digests,
# empty and unknown uploads; images pushed the way the ECR proxy does (ecrpush.py) and through /v2/;
# download URLs that serve the exact bytes and refuse a tampered URL; lifecycle policies put, read,
# previewed, deleted, refused when invalid and applied for real (untagged, a tag pattern, a tag
# prefix protecting images, image counts, after a push, on the periodic timer, and a
# sinceImagePushed rule that leaves fresh images alone); repository policies; a restart that keeps
# both policies.
source "$(dirname "$0")/lib.sh"
# The lifecycle timer ticks every 300 ms here (60 s by default).
export GANTRY_LIFECYCLE_INTERVAL_MS=300
start_server
HOST=${ENDPOINT#http://}
ECR_PREFIX=AmazonEC2ContainerRegistry_V20150921
# ecrraw OPERATION BODY: a raw signed ECR call; prints {"status", "json", ...}.
ecrraw() { e2epy "$E2E_DIR/rawreq.py" "$ENDPOINT" "$1" "$2" --prefix "$ECR_PREFIX" --service ecr; }
push() { e2epy "$E2E_DIR/ecrpush.py" "$ENDPOINT" "$@"; }
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
# tags_left REPO: the repository's image tags (untagged images as "-"), sorted, space-separated.
tags_left() {
	"$AWS1" --endpoint-url "$ENDPOINT" --output json ecr describe-images --repository-name "$1" >"$TMP/imgs" &&
		python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(' '.join(sorted(t for i in d['imageDetails'] for t in i.get('imageTags', ['-']))))" "$TMP/imgs"
}
# expect_tags DESC REPO WANT: the repository holds exactly the images tagged WANT.
expect_tags() {
	local got
	got=$(tags_left "$2")
	check "$1 (left: $got)" test "$got" = "$3"
}
policy() { # policy RULE...: a lifecycle policy text with these rules
	local IFS=,
	echo "{\"rules\":[$*]}"
}
# rule PRIORITY SELECTION: a rule that expires what SELECTION picks.
rule() { echo "{\"rulePriority\":$1,\"description\":\"rule $1\",\"selection\":{$2},\"action\":{\"type\":\"expire\"}}"; }

ok "create-repository lc" aws1 ecr create-repository --repository-name lc

# The layer API, by hand with the CLI: one 4000-byte layer in two parts.
head -c 4000 /dev/urandom >"$TMP/layer"
head -c 2000 "$TMP/layer" >"$TMP/part1"
tail -c 2000 "$TMP/layer" >"$TMP/part2"
LAYER=$(sha "$TMP/layer")
ok "initiate-layer-upload (CLI v1)" aws1 ecr initiate-layer-upload --repository-name lc
jcheck "an upload id (a UUID) and a part size" "$TMP/out" \
	"__import__('re').fullmatch('[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', d['uploadId']) and d['partSize'] > 0"
UP=$(jget "$TMP/out" "d['uploadId']")
ok "upload-layer-part bytes 0-1999" aws1 ecr upload-layer-part --repository-name lc --upload-id "$UP" \
	--part-first-byte 0 --part-last-byte 1999 --layer-part-blob "fileb://$TMP/part1"
jcheck "lastByteReceived 1999" "$TMP/out" "d == {'registryId': '$ACCT_A', 'repositoryName': 'lc', 'uploadId': '$UP', 'lastByteReceived': 1999}"
fails_like "a part that skips bytes" InvalidLayerPartException "partFirstByte 2500 does not continue the upload.*next part starts at byte 2000" \
	aws2 ecr upload-layer-part --repository-name lc --upload-id "$UP" --part-first-byte 2500 --part-last-byte 4499 --layer-part-blob "fileb://$TMP/part2"
ecrraw UploadLayerPart "{\"repositoryName\":\"lc\",\"uploadId\":\"$UP\",\"partFirstByte\":0,\"partLastByte\":1999,\"layerPartBlob\":\"$(base64 -w0 "$TMP/part1")\"}" >"$TMP/raw"
jcheck "a part sent twice: InvalidLayerPartException with lastValidByteReceived 1999 and the upload" "$TMP/raw" \
	"d['status'] == 400 and d['json']['__type'] == 'InvalidLayerPartException' and d['json']['lastValidByteReceived'] == 1999 and d['json']['uploadId'] == '$UP' and d['json']['registryId'] == '$ACCT_A' and d['json']['repositoryName'] == 'lc'"
fails_like "partLastByte that does not match the part's size" InvalidLayerPartException "the part has 2000 bytes" \
	aws1 ecr upload-layer-part --repository-name lc --upload-id "$UP" --part-first-byte 2000 --part-last-byte 2999 --layer-part-blob "fileb://$TMP/part2"
ok "upload-layer-part bytes 2000-3999 (CLI v2)" aws2 ecr upload-layer-part --repository-name lc --upload-id "$UP" \
	--part-first-byte 2000 --part-last-byte 3999 --layer-part-blob "fileb://$TMP/part2"
ok "complete-layer-upload" aws1 ecr complete-layer-upload --repository-name lc --upload-id "$UP" --layer-digests "$LAYER"
jcheck "the layer's digest" "$TMP/out" "d == {'registryId': '$ACCT_A', 'repositoryName': 'lc', 'uploadId': '$UP', 'layerDigest': '$LAYER'}"
ok "batch-check-layer-availability" aws2 ecr batch-check-layer-availability --repository-name lc --layer-digests "$LAYER"
jcheck "AVAILABLE, 4000 bytes" "$TMP/out" "d['layers'] == [{'layerDigest': '$LAYER', 'layerAvailability': 'AVAILABLE', 'layerSize': 4000}]"
fails_like "the finished upload is gone" UploadNotFoundException "$UP" \
	aws1 ecr complete-layer-upload --repository-name lc --upload-id "$UP" --layer-digests "$LAYER"
fails_with "an upload id nobody started" UploadNotFoundException \
	aws1 ecr upload-layer-part --repository-name lc --upload-id 0f0f0f0f-1111-2222-3333-444444444444 \
	--part-first-byte 0 --part-last-byte 1999 --layer-part-blob "fileb://$TMP/part1"

UP=$(aws1 ecr initiate-layer-upload --repository-name lc --query uploadId --output text)
ok "the same layer uploaded again" aws1 ecr upload-layer-part --repository-name lc --upload-id "$UP" \
	--part-first-byte 0 --part-last-byte 3999 --layer-part-blob "fileb://$TMP/layer"
fails_like "... is refused on completion" LayerAlreadyExistsException "$LAYER" \
	aws2 ecr complete-layer-upload --repository-name lc --upload-id "$UP" --layer-digests "$LAYER"

head -c 3000 /dev/urandom >"$TMP/other"
UP=$(aws1 ecr initiate-layer-upload --repository-name lc --query uploadId --output text)
ok "upload 3000 bytes" aws1 ecr upload-layer-part --repository-name lc --upload-id "$UP" \
	--part-first-byte 0 --part-last-byte 2999 --layer-part-blob "fileb://$TMP/other"
WRONG=sha256:$(printf 'not these bytes' | sha256sum | cut -d' ' -f1)
fails_like "complete-layer-upload with a digest the bytes do not have" InvalidLayerException "$(sha "$TMP/other" | cut -c1-20)" \
	aws1 ecr complete-layer-upload --repository-name lc --upload-id "$UP" --layer-digests "$WRONG"
ok "batch-check-layer-availability of both digests" aws1 ecr batch-check-layer-availability --repository-name lc \
	--layer-digests "$WRONG" "$(sha "$TMP/other")"
jcheck "neither is in the repository" "$TMP/out" "[l['layerAvailability'] for l in d['layers']] == ['UNAVAILABLE', 'UNAVAILABLE']"
UP=$(aws1 ecr initiate-layer-upload --repository-name lc --query uploadId --output text)
fails_with "completing an upload without parts" EmptyUploadException \
	aws1 ecr complete-layer-upload --repository-name lc --upload-id "$UP" --layer-digests "$LAYER"
ok "account B has a repository lc too" env AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$AWS1" \
	--endpoint-url "$ENDPOINT" ecr create-repository --repository-name lc
fails_with "account B cannot continue A's upload" UploadNotFoundException \
	env AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$AWS1" --endpoint-url "$ENDPOINT" ecr upload-layer-part \
	--repository-name lc --upload-id "$UP" --part-first-byte 0 --part-last-byte 1999 --layer-part-blob "fileb://$TMP/part1"

# Download URLs
fails_like "get-download-url-for-layer of a layer no image uses" LayerInaccessibleException "$LAYER" \
	aws1 ecr get-download-url-for-layer --repository-name lc --layer-digest "$LAYER"
fails_with "... of a layer the repository does not have" LayersNotFoundException \
	aws2 ecr get-download-url-for-layer --repository-name lc --layer-digest "$WRONG"
ok "push image one (boto3, the ECR proxy's calls)" push lc one one
ok "batch-get-image one" aws1 ecr batch-get-image --repository-name lc --image-ids imageTag=one
python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['images'][0]['imageManifest'])" "$TMP/out" >"$TMP/one.json"
BIG=$(jget "$TMP/one.json" "d['layers'][0]['digest']")
CFG=$(jget "$TMP/one.json" "d['config']['digest']")
ok "get-download-url-for-layer of its layer" aws1 ecr get-download-url-for-layer --repository-name lc --layer-digest "$BIG"
URL=$(jget "$TMP/out" "d['downloadUrl']")
jcheck "a URL on the registry's blob route, with the digest" "$TMP/out" \
	"d['layerDigest'] == '$BIG' and d['downloadUrl'].startswith('$ENDPOINT/v2/lc/blobs/$BIG?')"
code=$(curl -s -o "$TMP/dl" -w '%{http_code}' "$URL")
check "curl of the URL, without credentials: 200 ($code)" test "$code" = 200
check "... the exact bytes (700,000, by digest)" test "$(sha "$TMP/dl") $(stat -c %s "$TMP/dl")" = "$BIG 700000"
code=$(curl -s -o /dev/null -w '%{http_code}' -r 10-19 "$URL")
check "a Range request through the URL: 206 ($code)" test "$code" = 206
tampered=${URL%?}$([ "${URL: -1}" = 0 ] && echo 1 || echo 0)
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$tampered")
check "a tampered URL is refused: 403 ($code)" test "$code" = 403
jcheck "... DENIED" "$TMP/body" "d['errors'][0]['code'] == 'DENIED'"
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL/$BIG/$CFG}")
check "the URL's credential does not open another blob: 403 ($code)" test "$code" = 403
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL")
check "nor a DELETE of the same blob ($code)" test "$code" = 401
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL%%\?*}")
check "the blob route without the credential: 401 ($code)" test "$code" = 401
ok "get-download-url-for-layer of the config (CLI v2)" aws2 ecr get-download-url-for-layer --repository-name lc --layer-digest "$CFG"
code=$(curl -s -o "$TMP/cfg" -w '%{http_code}' "$(jget "$TMP/out" "d['downloadUrl']")")
jcheck "the config's bytes ($code)" "$TMP/cfg" "d['config']['Env'] == ['MARKER=one']"

# Lifecycle policies
fails_like "get-lifecycle-policy before there is one" LifecyclePolicyNotFoundException "repository with name 'lc'" \
	aws1 ecr get-lifecycle-policy --repository-name lc
fails_with "delete-lifecycle-policy before there is one" LifecyclePolicyNotFoundException \
	aws2 ecr delete-lifecycle-policy --repository-name lc
fails_with "get-lifecycle-policy-preview before there is one" LifecyclePolicyPreviewNotFoundException \
	aws1 ecr get-lifecycle-policy-preview --repository-name lc
fails_like "a tagged rule without tags" InvalidParameterException "rules\[0\]\.selection: tagStatus tagged requires a tagPrefixList or a tagPatternList" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1')")"
fails_like "countUnit with imageCountMoreThan" InvalidParameterException "countUnit is not allowed with countType imageCountMoreThan" \
	aws2 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"any","countType":"imageCountMoreThan","countUnit":"days","countNumber":1')")"
fails_like "sinceImagePushed without days" InvalidParameterException "countUnit must be \"days\"" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"any","countType":"sinceImagePushed","countNumber":1')")"
fails_like "two rules with one priority" InvalidParameterException "same rulePriority 1" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1')" \
		"$(rule 1 '"tagStatus":"tagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1')")"
fails_like "an any rule before another" InvalidParameterException "tagStatus any: it must have the highest rulePriority" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1')" \
		"$(rule 2 '"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1')")"
fails_like "countNumber 0" InvalidParameterException "countNumber is required and must be an integer greater than 0" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0')")"
fails_like "text that is not JSON" InvalidParameterException "not JSON" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1')") and more"
fails_with "no policy was stored" LifecyclePolicyNotFoundException aws1 ecr get-lifecycle-policy --repository-name lc

# Images, oldest first: rel-1, dev-1, (untagged), dev-2, (untagged), dev-3, rel-2 (and one).
for m in rel-1 dev-1 - dev-2 - dev-3 rel-2; do
	if [ "$m" = - ]; then push lc "untagged-$RANDOM$RANDOM" >/dev/null; else push lc "$m" "$m" >/dev/null; fi
done
expect_tags "eight images pushed" lc "- - dev-1 dev-2 dev-3 one rel-1 rel-2"

P=$(policy "$(rule 1 '"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":1')")
ok "put-lifecycle-policy: anything pushed more than 1 day ago (CLI v1)" aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text "$P"
jcheck "the answer carries the text" "$TMP/out" "d == {'registryId': '$ACCT_A', 'repositoryName': 'lc', 'lifecyclePolicyText': '''$P'''}"
ok "get-lifecycle-policy" aws1 ecr get-lifecycle-policy --repository-name lc
jcheck "the same text, and when it was last applied" "$TMP/out" \
	"d['lifecyclePolicyText'] == '''$P''' and abs(d['lastEvaluatedAt'] - __import__('time').time()) < 60"
FIRST=$(jget "$TMP/out" "d['lastEvaluatedAt']")
sleep 1
expect_tags "fresh images are not expired, not even by the timer" lc "- - dev-1 dev-2 dev-3 one rel-1 rel-2"
ok "get-lifecycle-policy again" aws1 ecr get-lifecycle-policy --repository-name lc
jcheck "the timer applied it again meanwhile" "$TMP/out" "d['lastEvaluatedAt'] > $FIRST"

ok "start-lifecycle-policy-preview of a count rule" aws1 ecr start-lifecycle-policy-preview --repository-name lc \
	--lifecycle-policy-text "$(policy "$(rule 1 '"tagStatus":"tagged","tagPatternList":["dev-*"],"countType":"imageCountMoreThan","countNumber":1')")"
jcheck "COMPLETE at once" "$TMP/out" "d['status'] == 'COMPLETE' and 'dev-*' in d['lifecyclePolicyText']"
ok "get-lifecycle-policy-preview (CLI v2)" aws2 ecr get-lifecycle-policy-preview --repository-name lc
jcheck "dev-1 and dev-2 would expire by rule 1" "$TMP/out" \
	"sorted(t for r in d['previewResults'] for t in r['imageTags']) == ['dev-1', 'dev-2'] and all(r['action'] == {'type': 'EXPIRE'} and r['appliedRulePriority'] == 1 for r in d['previewResults']) and d['summary'] == {'expiringImageTotalCount': 2} and d['status'] == 'COMPLETE'"
ok "get-lifecycle-policy-preview --max-results 1 --filter tagStatus=TAGGED (one page)" \
	aws1 ecr get-lifecycle-policy-preview --repository-name lc --filter tagStatus=TAGGED --max-results 1 --no-paginate
jcheck "one result and a nextToken" "$TMP/out" "len(d['previewResults']) == 1 and d['nextToken']"
ok "get-lifecycle-policy-preview --filter tagStatus=UNTAGGED" aws1 ecr get-lifecycle-policy-preview --repository-name lc --filter tagStatus=UNTAGGED
jcheck "nothing untagged expires" "$TMP/out" "d['previewResults'] == [] and d['summary']['expiringImageTotalCount'] == 0"
expect_tags "a preview deletes nothing" lc "- - dev-1 dev-2 dev-3 one rel-1 rel-2"

ok "put-lifecycle-policy: one untagged image at most" aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1')")"
expect_tags "the older untagged image is gone at once" lc "- dev-1 dev-2 dev-3 one rel-1 rel-2"
ok "put-lifecycle-policy: one dev-* image at most (tagPatternList, CLI v2)" aws2 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"tagged","tagPatternList":["dev-*"],"countType":"imageCountMoreThan","countNumber":1')")"
expect_tags "dev-1 and dev-2 are gone" lc "- dev-3 one rel-1 rel-2"
ok "put-lifecycle-policy: keep every rel image (tagPrefixList, rule 1), two images of the rest (any, rule 2)" \
	aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"tagged","tagPrefixList":["rel"],"countType":"imageCountMoreThan","countNumber":100')" \
		"$(rule 2 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2')")"
expect_tags "rel-1 is kept by rule 1 though it is old; one and the untagged image are past the newest two" lc "dev-3 rel-1 rel-2"
ok "put-lifecycle-policy: two images at most" aws1 ecr put-lifecycle-policy --repository-name lc --lifecycle-policy-text \
	"$(policy "$(rule 1 '"tagStatus":"any","countType":"imageCountMoreThan","countNumber":2')")"
expect_tags "exactly the 2 newest are left" lc "dev-3 rel-2"
ok "push image new (boto3)" push lc new new
expect_tags "the policy holds right after a push" lc "new rel-2"
if command -v skopeo >/dev/null && [ -x /bin/busybox ]; then
	PW=$(aws1 ecr get-login-password)
	e2epy "$E2E_DIR/mkoci.py" "$TMP/oci" v1 >/dev/null
	ok "push image sk through /v2/ (skopeo)" skopeo --override-arch amd64 --override-os linux copy --dest-tls-verify=false \
		--dest-creds "AWS:$PW" "oci:$TMP/oci:v1" "docker://$HOST/lc:sk"
	expect_tags "the policy holds after a /v2/ push too" lc "new sk"
fi

stop_server
start_server
ok "after a restart, get-lifecycle-policy (CLI v2)" aws2 ecr get-lifecycle-policy --repository-name lc
jcheck "the policy is still there" "$TMP/out" "'\"countNumber\":2' in d['lifecyclePolicyText']"
ok "delete-lifecycle-policy (CLI v2)" aws2 ecr delete-lifecycle-policy --repository-name lc
jcheck "answers with the deleted text" "$TMP/out" "'\"countNumber\":2' in d['lifecyclePolicyText'] and d['repositoryName'] == 'lc'"
fails_with "it is gone" LifecyclePolicyNotFoundException aws1 ecr get-lifecycle-policy --repository-name lc
push lc more more >/dev/null
expect_tags "without a policy nothing expires" lc "more new sk"

# Repository policies
fails_like "get-repository-policy before there is one" RepositoryPolicyNotFoundException "repository with name 'lc'" \
	aws1 ecr get-repository-policy --repository-name lc
fails_with "delete-repository-policy before there is one" RepositoryPolicyNotFoundException \
	aws2 ecr delete-repository-policy --repository-name lc
RP='{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}'
fails_like "a repository policy that is not JSON" InvalidParameterException "Invalid repository policy provided" \
	aws1 ecr set-repository-policy --repository-name lc --policy-text "${RP%?}"
fails_like "... without Statement" InvalidParameterException "Statement must be" \
	aws1 ecr set-repository-policy --repository-name lc --policy-text '{"Version":"2012-10-17"}'
fails_like "... with Effect Maybe" InvalidParameterException "Effect of Allow or Deny" \
	aws2 ecr set-repository-policy --repository-name lc --policy-text "${RP/Allow/Maybe}"
fails_like "... without a Principal" InvalidParameterException "Principal or a NotPrincipal" \
	aws1 ecr set-repository-policy --repository-name lc \
	--policy-text '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecr:*"}}'
fails_like "... with another Version" InvalidParameterException "Version must be" \
	aws1 ecr set-repository-policy --repository-name lc --policy-text "${RP/2012-10-17/2020-01-01}"
ok "set-repository-policy (CLI v2)" aws2 ecr set-repository-policy --repository-name lc --policy-text "$RP"
jcheck "registryId, repositoryName, policyText" "$TMP/out" "d == {'registryId': '$ACCT_A', 'repositoryName': 'lc', 'policyText': '''$RP'''}"
ok "get-repository-policy (CLI v1)" aws1 ecr get-repository-policy --repository-name lc
jcheck "the text as set" "$TMP/out" "d == {'registryId': '$ACCT_A', 'repositoryName': 'lc', 'policyText': '''$RP'''}"
fails_with "account B's repository lc has no policy (A's is not B's)" RepositoryPolicyNotFoundException \
	env AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$AWS1" --endpoint-url "$ENDPOINT" ecr get-repository-policy --repository-name lc
stop_server
start_server
ok "after a restart, get-repository-policy" aws1 ecr get-repository-policy --repository-name lc
jcheck "the same text" "$TMP/out" "d['policyText'] == '''$RP'''"
ok "delete-repository-policy" aws1 ecr delete-repository-policy --repository-name lc
jcheck "answers with the deleted text" "$TMP/out" "d['policyText'] == '''$RP'''"
fails_with "it is gone" RepositoryPolicyNotFoundException aws2 ecr get-repository-policy --repository-name lc
fails_with "policies of a repository that does not exist" RepositoryNotFoundException \
	aws1 ecr put-lifecycle-policy --repository-name nope --lifecycle-policy-text "$P"
done_testing
