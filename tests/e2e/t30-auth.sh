#!/bin/bash
# The AWS front's refusals, checked on the wire (status, __type, message, x-amzn-RequestId): no
# Authorization, unknown key, wrong secret, forged signature, a body or signed header changed after
# signing, X-Amz-Date too far off either way, malformed JSON, unknown operations, wrong member types,
# bodies over the limit (including a huge declared Content-Length that is never sent); then
# cross-account and cross-region isolation through the CLI.
source "$(dirname "$0")/lib.sh"
start_server

CL=arn:aws:ecs:us-east-1:$ACCT_A:cluster
TD=arn:aws:ecs:us-east-1:$ACCT_A:task-definition

# raw OPERATION [BODY] [rawreq options]: one crafted request; its answer as JSON in $TMP/out.
raw() { e2epy "$E2E_DIR/rawreq.py" "$ENDPOINT" "$@"; }
# An AWS error answer: status, __type (a regex), a message matching REGEX, the JSON content type, a request id.
is_error() { # file status type regex
	e2epy - "$@" <<'EOF'
import json, re, sys
f, status, typ, rx = sys.argv[1:5]
d = json.load(open(f))
j = d["json"] or {}
rid = d["headers"].get("x-amzn-requestid", "")
problems = []
if d["status"] != int(status): problems.append("status %s, expected %s" % (d["status"], status))
if not re.fullmatch(typ, j.get("__type") or ""): problems.append("__type %r, expected %r" % (j.get("__type"), typ))
if not re.search(rx, j.get("message") or ""): problems.append("message %r does not match /%s/" % (j.get("message"), rx))
if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rid): problems.append("x-amzn-RequestId %r" % rid)
if not d["headers"].get("content-type", "").startswith("application/x-amz-json-1.1"): problems.append("content-type %r" % d["headers"].get("content-type"))
for p in problems: print("#   " + p)
sys.exit(1 if problems else 0)
EOF
}
refused() { # desc status type regex -- rawreq args...
	local desc=$1 status=$2 typ=$3 rx=$4; shift 4
	T_N=$((T_N + 1))
	if raw "$@" >"$TMP/out" 2>"$TMP/err" && is_error "$TMP/out" "$status" "$typ" "$rx" >"$TMP/why"; then
		echo "ok $T_N - $desc"
	else
		echo "not ok $T_N - $desc"; T_FAILED=$((T_FAILED + 1))
		cat "$TMP/why" "$TMP/err" 2>/dev/null | head -10
		head -c 600 "$TMP/out" | sed 's/^/#   /'; echo
	fi
}

# --- the baseline: a correctly signed raw request works ---
ok "a correctly signed raw CreateCluster is answered" raw CreateCluster '{"clusterName": "base"}'
jcheck "... 200 with the cluster and a request id" "$TMP/out" \
	"d['status'] == 200 and d['json']['cluster']['clusterName'] == 'base' and len(d['headers']['x-amzn-requestid']) == 36"
ok "an empty body is an empty input" raw ListClusters ''
jcheck "... 200" "$TMP/out" "d['status'] == 200 and '$CL/base' in d['json']['clusterArns']"

# --- authentication ---
refused "no Authorization header: 403 MissingAuthenticationTokenException" \
	403 MissingAuthenticationTokenException "Missing Authentication Token" ListClusters '{}' --no-sign
refused "an unknown access key: 403 UnrecognizedClientException" \
	403 UnrecognizedClientException "security token included in the request is invalid" \
	ListClusters '{}' --key GKIANOSUCHKEY0000000 --secret whatever
refused "the right key with a wrong secret: 403 InvalidSignatureException" \
	403 InvalidSignatureException "signature we calculated does not match" \
	CreateCluster '{"clusterName": "wrong-secret"}' --secret "not-the-secret"
refused "a forged signature: 403 InvalidSignatureException" \
	403 InvalidSignatureException "signature we calculated does not match" \
	CreateCluster '{"clusterName": "forged"}' --signature "$(printf '0%.0s' $(seq 64))"
refused "account B's key with account A's secret: 403 InvalidSignatureException" \
	403 InvalidSignatureException "signature we calculated does not match" \
	ListClusters '{}' --key "$KEY_B" --secret "$SECRET_A"
refused "the body changed after signing: 403 InvalidSignatureException" \
	403 InvalidSignatureException "signature we calculated does not match" \
	CreateCluster '{"clusterName": "signed"}' --body-after '{"clusterName": "tampered"}'
refused "X-Amz-Target changed after signing (ListClusters signed, DeleteCluster sent): 403" \
	403 InvalidSignatureException "signature we calculated does not match" \
	ListClusters '{"cluster": "base"}' --header-after "X-Amz-Target: AmazonEC2ContainerServiceV20141113.DeleteCluster"
refused "a scope for another service (ec2): 403 InvalidSignatureException" \
	403 InvalidSignatureException "service" ListClusters '{}' --service ec2
refused "a malformed Authorization header: 403 InvalidSignatureException" \
	403 InvalidSignatureException "." ListClusters '{}' --header-after "Authorization: AWS4-HMAC-SHA256 garbage"
refused "X-Amz-Date 16 minutes in the past: 403 InvalidSignatureException, Signature expired" \
	403 InvalidSignatureException "^Signature expired" ListClusters '{}' --skew -960
refused "X-Amz-Date 16 minutes in the future: 403 InvalidSignatureException, not yet current" \
	403 InvalidSignatureException "^Signature not yet current" ListClusters '{}' --skew 960
refused "X-Amz-Date a day in the past: 403 Signature expired" \
	403 InvalidSignatureException "^Signature expired" ListClusters '{}' --skew -86400
ok "X-Amz-Date 14 minutes in the past is still accepted" raw ListClusters '{}' --skew -840
jcheck "... 200" "$TMP/out" "d['status'] == 200"
ok "X-Amz-Date 14 minutes in the future is still accepted" raw ListClusters '{}' --skew 840
jcheck "... 200" "$TMP/out" "d['status'] == 200"
ok "list-clusters after the refused mutations" aws1 ecs list-clusters
jcheck "... none of the refused creates happened" "$TMP/out" \
	"not any(n in a for a in d['clusterArns'] for n in ['/wrong-secret', '/forged', '/signed', '/tampered'])
	and '$CL/base' in d['clusterArns']"
fails_with "aws ecs list-clusters with a wrong secret: InvalidSignatureException" InvalidSignatureException \
	env AWS_SECRET_ACCESS_KEY=nope "$AWS1" --endpoint-url "$ENDPOINT" ecs list-clusters
fails_with "aws ecs list-clusters with an unknown key: UnrecognizedClientException" UnrecognizedClientException \
	env AWS_ACCESS_KEY_ID=GKIANOSUCHKEY0000000 "$AWS1" --endpoint-url "$ENDPOINT" ecs list-clusters

# --- protocol ---
refused "malformed JSON: 400 SerializationException" 400 SerializationException "." \
	CreateCluster '{"clusterName": "x",'
refused "a JSON array instead of an object: 400 SerializationException" 400 SerializationException "." \
	CreateCluster '["clusterName"]'
refused "an unknown operation: 400 UnknownOperationException" 400 UnknownOperationException "FlyToTheMoon" \
	FlyToTheMoon '{}'
refused "an unknown target prefix: 400 UnknownOperationException" 400 UnknownOperationException "." \
	ListClusters '{}' --prefix AmazonEC2ContainerServiceV20990101
refused "no X-Amz-Target: 400 UnknownOperationException" 400 UnknownOperationException "." \
	ListClusters '{}' --no-target
refused "clusterName a number: 400 InvalidParameterException naming clusterName" \
	400 InvalidParameterException "clusterName" CreateCluster '{"clusterName": 5}'
refused "clusters a string: 400 InvalidParameterException naming clusters" \
	400 InvalidParameterException "clusters" DescribeClusters '{"clusters": "base"}'
refused "maxResults a string: 400 InvalidParameterException naming maxResults" \
	400 InvalidParameterException "maxResults" ListClusters '{"maxResults": "ten"}'
refused "maxResults 0: 400 InvalidParameterException naming maxResults" \
	400 InvalidParameterException "maxResults" ListClusters '{"maxResults": 0}'
refused "tags not a list: 400 InvalidParameterException naming tags" \
	400 InvalidParameterException "tags" CreateCluster '{"clusterName": "t", "tags": {"k": "v"}}'
refused "containerDefinitions[0].memory a string: refused naming memory" \
	400 "ClientException|InvalidParameterException" "memory" RegisterTaskDefinition \
	'{"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "memory": "lots"}]}'
refused "a missing required member (DeleteCluster without cluster): InvalidParameterException naming it" \
	400 InvalidParameterException "cluster" DeleteCluster '{}'
ok "a GET on / is answered" e2epy -c "
import json, sys, e2elib
r = e2elib.send(sys.argv[1], 'GET', '/', {}, b'')
print(json.dumps(r.as_dict()))" "$ENDPOINT"
jcheck "... with an AWS error body, not a crash" "$TMP/out" \
	"d['status'] in (400, 403, 404) and d['json'] and d['json'].get('__type') and d['headers'].get('x-amzn-requestid')"

# --- request ids ---
for i in 1 2 3; do raw ListClusters '{}' >"$TMP/rid$i.json"; done
T_N=$((T_N + 1))
if e2epy -c "import json,sys; ids = {json.load(open(f))['headers']['x-amzn-requestid'] for f in sys.argv[1:]}; sys.exit(0 if len(ids) == 3 else 1)" \
	"$TMP"/rid[123].json; then echo "ok $T_N - every answer has its own x-amzn-RequestId"
else echo "not ok $T_N - every answer has its own x-amzn-RequestId"; T_FAILED=$((T_FAILED + 1)); fi

# --- body limit (API_BODY_MAX = 1 MiB) ---
bodytest() { # mode -> JSON answer on stdout
	e2epy - "$ENDPOINT" "$1" <<'EOF'
import json, sys, e2elib
ep, mode = sys.argv[1], sys.argv[2]
LIMIT = 1 << 20
def signed(op, body):
    return e2elib.signed_request(ep, op, body)
if mode == "declared-1g":
    m, p, h, b = signed("CreateCluster", b"{}")
    r = e2elib.send_raw(ep, m, p, h, body=b'{"clusterName": "hu', declared_length=1 << 30, timeout=10)
elif mode == "full":
    body = b'{"clusterName": "big"' + b" " * (LIMIT + 1 - len(b'{"clusterName": "big"}')) + b"}"
    m, p, h, b = signed("CreateCluster", body)
    r = e2elib.send_raw(ep, m, p, h, body=body, timeout=10)
elif mode == "chunked":
    body = b'{"clusterName": "chunky"' + b" " * (2 * LIMIT) + b"}"
    m, p, h, b = signed("CreateCluster", body)
    r = e2elib.send_raw(ep, m, p, h, body=body, chunked=True, timeout=10)
elif mode == "exact":
    body = b'{"clusterName": "exact"' + b" " * (LIMIT - len(b'{"clusterName": "exact"}')) + b"}"
    assert len(body) == LIMIT
    m, p, h, b = signed("CreateCluster", body)
    r = e2elib.send_raw(ep, m, p, h, body=body, timeout=10)
print(json.dumps(r))
EOF
}
ok "a request declaring a 1 GB body and sending a few bytes" bodytest declared-1g
jcheck "... is refused with 413 RequestEntityTooLargeException without waiting for the body" "$TMP/out" \
	"d['status'] == 413 and d['json']['__type'] == 'RequestEntityTooLargeException' and not d['timed_out']
	and d['elapsed'] < 3 and d['headers'].get('x-amzn-requestid')"
ok "a signed 1 MiB + 1 byte body" bodytest full
jcheck "... is refused with 413 RequestEntityTooLargeException" "$TMP/out" \
	"d['status'] == 413 and d['json']['__type'] == 'RequestEntityTooLargeException' and '1048576' in d['json']['message']"
ok "a chunked body growing past 1 MiB" bodytest chunked
jcheck "... is refused with 413 too" "$TMP/out" \
	"d['status'] == 413 and d['json']['__type'] == 'RequestEntityTooLargeException'"
ok "a signed body of exactly 1 MiB" bodytest exact
jcheck "... is served (200, the cluster is created)" "$TMP/out" \
	"d['status'] == 200 and d['json']['cluster']['clusterName'] == 'exact'"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$TMP/big"
T_N=$((T_N + 1))
code=$(curl -s -m 10 -o "$TMP/curl.out" -w '%{http_code}' -H 'Expect: 100-continue' \
	-H 'X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters' \
	-H 'Content-Type: application/x-amz-json-1.1' --data-binary @"$TMP/big" "$ENDPOINT/")
if [ "$code" = 413 ] && grep -q RequestEntityTooLargeException "$TMP/curl.out"; then
	echo "ok $T_N - curl with Expect: 100-continue and a 2 MB body gets 413 (not 100 Continue)"
else
	echo "not ok $T_N - curl with Expect: 100-continue and a 2 MB body gets 413 (got $code)"; T_FAILED=$((T_FAILED + 1))
fi
ok "a client that declares 1000 bytes, sends 10 and hangs up" e2epy -c "
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"cluster')
s.close()" "$ENDPOINT"
ok "after all that, the server still answers" aws1 ecs list-clusters
jcheck "... and none of the oversized creates happened" "$TMP/out" \
	"'$CL/exact' in d['clusterArns'] and not any(a.endswith(('/big', '/chunky', '/hu')) for a in d['clusterArns'])"

# --- cross-account isolation (account B must not see or touch account A's resources) ---
asB() { AWS_ACCESS_KEY_ID=$KEY_B AWS_SECRET_ACCESS_KEY=$SECRET_B "$@"; }
ok "A creates cluster private with a tag" aws1 ecs create-cluster --cluster-name private --tags key=owner,value=a
ok "A registers family private-td" aws1 ecs register-task-definition --family private-td \
	--container-definitions '[{"name": "web", "image": "nginx", "memory": 128}]' --tags key=owner,value=a
ok "A puts an account setting" aws1 ecs put-account-setting --name containerInsights --value enabled
ok "B: list-clusters" asB aws1 ecs list-clusters
jcheck "B: ... sees none of A's clusters" "$TMP/out" "not any(':$ACCT_A:' in a for a in d['clusterArns'])"
ok "B: describe-clusters by A's name and A's ARN" asB aws1 ecs describe-clusters --clusters private "$CL/private" --include TAGS
jcheck "B: ... both are failures MISSING, nothing of A's is answered" "$TMP/out" \
	"d['clusters'] == [] and sorted(f['reason'] for f in d['failures']) == ['MISSING', 'MISSING']
	and 'owner' not in json.dumps(d)"
fails_with "B: delete-cluster A's ARN" ClusterNotFoundException asB aws1 ecs delete-cluster --cluster "$CL/private"
fails_with "B: delete-cluster A's name" ClusterNotFoundException asB aws1 ecs delete-cluster --cluster private
fails_with "B: update-cluster-settings on A's ARN" ClusterNotFoundException \
	asB aws1 ecs update-cluster-settings --cluster "$CL/private" --settings name=containerInsights,value=enabled
fails_with "B: tag-resource on A's cluster" Exception \
	asB aws1 ecs tag-resource --resource-arn "$CL/private" --tags key=owner,value=b
fails_with "B: untag-resource on A's cluster" Exception \
	asB aws1 ecs untag-resource --resource-arn "$CL/private" --tag-keys owner
fails_with "B: list-tags-for-resource on A's cluster" Exception \
	asB aws1 ecs list-tags-for-resource --resource-arn "$CL/private"
fails_with "B: describe-task-definition A's family" ClientException \
	asB aws1 ecs describe-task-definition --task-definition private-td
fails_with "B: describe-task-definition A's ARN" ClientException \
	asB aws1 ecs describe-task-definition --task-definition "$TD/private-td:1"
fails_with "B: deregister-task-definition A's ARN" Exception \
	asB aws1 ecs deregister-task-definition --task-definition "$TD/private-td:1"
fails_with "B: list-tags-for-resource on A's task definition" Exception \
	asB aws1 ecs list-tags-for-resource --resource-arn "$TD/private-td:1"
ok "B: list-task-definitions and families" asB aws1 ecs list-task-definitions
jcheck "B: ... none of A's task definitions" "$TMP/out" "d['taskDefinitionArns'] == []"
ok "B: list-task-definition-families --status ALL" asB aws1 ecs list-task-definition-families --status ALL
jcheck "B: ... none of A's families" "$TMP/out" "d['families'] == []"
ok "B: list-account-settings" asB aws1 ecs list-account-settings
jcheck "B: ... none of A's settings" "$TMP/out" "d['settings'] == []"
ok "B: create-cluster private (the same name)" asB aws1 ecs create-cluster --cluster-name private
jcheck "B: ... is B's own cluster, with B's account in the ARN and no tags" "$TMP/out" \
	"d['cluster']['clusterArn'] == 'arn:aws:ecs:us-east-1:$ACCT_B:cluster/private' and d['cluster']['tags'] == []"
ok "B: register private-td" asB aws1 ecs register-task-definition --family private-td \
	--container-definitions '[{"name": "b", "image": "busybox", "memory": 64}]'
jcheck "B: ... is revision 1 of B's own family" "$TMP/out" \
	"d['taskDefinition']['taskDefinitionArn'] == 'arn:aws:ecs:us-east-1:$ACCT_B:task-definition/private-td:1'"
ok "B: delete-cluster private (its own)" asB aws1 ecs delete-cluster --cluster private
ok "A: describe-clusters private --include TAGS" aws1 ecs describe-clusters --clusters private --include TAGS
jcheck "A: ... still ACTIVE with A's tag untouched" "$TMP/out" \
	"[(c['status'], c['tags']) for c in d['clusters']] == [('ACTIVE', [{'key': 'owner', 'value': 'a'}])]"
ok "A: describe-task-definition private-td --include TAGS" aws1 ecs describe-task-definition --task-definition private-td --include TAGS
jcheck "A: ... still revision 1, ACTIVE, A's container, A's tag" "$TMP/out" \
	"(t := d['taskDefinition']) is not None and t['revision'] == 1 and t['status'] == 'ACTIVE'
	and t['containerDefinitions'][0]['name'] == 'web' and d['tags'] == [{'key': 'owner', 'value': 'a'}]"
ok "raw: B signs DescribeClusters for A's ARN" raw DescribeClusters "{\"clusters\": [\"$CL/private\"]}" --account B
jcheck "raw: ... B gets a MISSING failure and no cluster" "$TMP/out" \
	"d['status'] == 200 and d['json']['clusters'] == [] and d['json']['failures'][0]['reason'] == 'MISSING'"

# --- regions are separate too ---
ok "A: list-clusters in eu-west-1" aws1 --region eu-west-1 ecs list-clusters
jcheck "A: ... none of us-east-1's clusters" "$TMP/out" "d['clusterArns'] == []"
ok "A: create-cluster private in eu-west-1" aws1 --region eu-west-1 ecs create-cluster --cluster-name private
jcheck "A: ... its ARN names eu-west-1" "$TMP/out" \
	"d['cluster']['clusterArn'] == 'arn:aws:ecs:eu-west-1:$ACCT_A:cluster/private' and d['cluster']['tags'] == []"
fails_with "A: describe-task-definition private-td in eu-west-1" ClientException \
	aws1 --region eu-west-1 ecs describe-task-definition --task-definition private-td

done_testing
