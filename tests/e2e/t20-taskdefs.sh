#!/bin/bash
# Task definitions through both AWS CLIs: register (--cli-input-json with the README's two-container
# bridge example), describe (family, family:revision, ARN, --include TAGS), list-task-definitions
# (--family-prefix, --status, --sort, the CLI's automatic paging over more than 100 revisions),
# list-task-definition-families, deregister, delete-task-definitions, tags, "1 vCPU"/"2 GB" sizes,
# and ECS's validation refusals with the exception and the member or container they name.
source "$(dirname "$0")/lib.sh"
start_server

TD=arn:aws:ecs:us-east-1:$ACCT_A:task-definition
WEB_APP="file://$E2E_DIR/data/web-app.json"

clis=(1)
if have_aws2 && [ "$(readlink -f "$AWS1")" != "$(readlink -f "$AWS2")" ]; then
	clis+=(2)
else
	diag "only one AWS CLI on this machine: the v2 pass is skipped"
fi

# --- register the README example with each CLI ---
rev=0
for v in "${clis[@]}"; do
	cli=aws$v
	rev=$((rev + 1))
	ok "v$v: register-task-definition --cli-input-json web-app.json" \
		$cli ecs register-task-definition --cli-input-json "$WEB_APP"
	cp "$TMP/out" "$TMP/reg$v.json"
	jcheck "v$v: ... is revision $rev of web-app, ACTIVE, bridge mode, with its ARN" "$TMP/out" \
		"(t := d['taskDefinition']) is not None and t['family'] == 'web-app' and t['revision'] == $rev
		and t['status'] == 'ACTIVE' and t['networkMode'] == 'bridge'
		and t['taskDefinitionArn'] == '$TD/web-app:$rev'
		and t['registeredBy'] == 'arn:aws:iam::$ACCT_A:root' and t.get('registeredAt')"
	jcheck "v$v: ... keeps both containers, the link, the dependency and the port mappings" "$TMP/out" \
		"(c := {x['name']: x for x in d['taskDefinition']['containerDefinitions']}) is not None
		and sorted(c) == ['app', 'nginx'] and c['nginx']['links'] == ['app']
		and c['nginx']['dependsOn'] == [{'containerName': 'app', 'condition': 'START'}]
		and c['nginx']['portMappings'] == [{'containerPort': 80, 'hostPort': 8080, 'protocol': 'tcp'}]
		and c['app']['memoryReservation'] == 128 and 'memory' not in c['app']
		and c['app']['environment'] == [{'name': 'LISTEN', 'value': '0.0.0.0:3000'}]"
	jcheck "v$v: ... with ECS's defaults filled in (essential, tcp, hostPort 0 in bridge mode, EC2 compatibility)" "$TMP/out" \
		"(t := d['taskDefinition']) is not None
		and all(x['essential'] is True for x in t['containerDefinitions'])
		and [x for x in t['containerDefinitions'] if x['name'] == 'app'][0]['portMappings'] ==
		[{'containerPort': 3000, 'hostPort': 0, 'protocol': 'tcp'}]
		and 'EC2' in t['compatibilities']
		and {'name': 'ecs.capability.container-ordering'} in t['requiresAttributes']"
done

for v in "${clis[@]}"; do
	cli=aws$v
	ok "v$v: describe-task-definition web-app (the family: latest ACTIVE revision)" \
		$cli ecs describe-task-definition --task-definition web-app
	jcheck "v$v: ... is revision $rev" "$TMP/out" "d['taskDefinition']['revision'] == $rev and 'tags' not in d"
	ok "v$v: describe-task-definition web-app:1" $cli ecs describe-task-definition --task-definition web-app:1
	cp "$TMP/out" "$TMP/desc1.json"
	jcheck "v$v: ... answers the same document register answered" "$TMP/out" \
		"d['taskDefinition'] == json.load(open('$TMP/reg$v.json'))['taskDefinition'] if $v == 1 else
		(lambda a, b: {k: v for k, v in a.items() if k != 'registeredAt'} == {k: v for k, v in b.items() if k != 'registeredAt'})(
		d['taskDefinition'], json.load(open('$TMP/reg1.json'))['taskDefinition'])"
	ok "v$v: describe-task-definition by ARN" $cli ecs describe-task-definition --task-definition "$TD/web-app:1"
	jcheck "v$v: ... is the same revision" "$TMP/out" \
		"d['taskDefinition'] == json.load(open('$TMP/desc1.json'))['taskDefinition']"
	fails_with "v$v: describe-task-definition of a missing revision" ClientException \
		$cli ecs describe-task-definition --task-definition web-app:99
	fails_with "v$v: describe-task-definition of a missing family" ClientException \
		$cli ecs describe-task-definition --task-definition no-such-family
done

# --- tags ---
ok "register with --tags" aws1 ecs register-task-definition --family tagged --tags key=team,value=core \
	--container-definitions '[{"name": "web", "image": "nginx", "memory": 128}]'
jcheck "... answers the tags beside the task definition" "$TMP/out" "d['tags'] == [{'key': 'team', 'value': 'core'}]"
for v in "${clis[@]}"; do
	cli=aws$v
	ok "v$v: describe-task-definition --include TAGS" $cli ecs describe-task-definition --task-definition tagged:1 --include TAGS
	jcheck "v$v: ... answers the tags" "$TMP/out" "{'key': 'team', 'value': 'core'} in d['tags']"
	ok "v$v: tag-resource on the task definition ARN" $cli ecs tag-resource --resource-arn "$TD/tagged:1" \
		--tags key=v$v,value=yes
	ok "v$v: list-tags-for-resource on the task definition ARN" $cli ecs list-tags-for-resource --resource-arn "$TD/tagged:1"
	jcheck "v$v: ... has the new tag" "$TMP/out" "{'key': 'v$v', 'value': 'yes'} in d['tags'] and len(d['tags']) == $((v + 1))"
done
ok "untag-resource on the task definition" aws1 ecs untag-resource --resource-arn "$TD/tagged:1" --tag-keys team
ok "describe-task-definition --include TAGS after untag" aws1 ecs describe-task-definition --task-definition "$TD/tagged:1" --include TAGS
jcheck "... team is gone" "$TMP/out" "sorted(t['key'] for t in d['tags']) == ['v' + str(i) for i in range(1, ${#clis[@]} + 1)]"
fails_with "tag-resource on a missing task definition" ClientException \
	aws1 ecs tag-resource --resource-arn "$TD/tagged:9" --tags key=a,value=b

# --- task size strings ---
ok "register Fargate with cpu '1 vCPU' and memory '2 GB'" aws2 ecs register-task-definition --family sized \
	--requires-compatibilities FARGATE --network-mode awsvpc --cpu "1 vCPU" --memory "2 GB" \
	--container-definitions '[{"name": "web", "image": "nginx", "portMappings": [{"containerPort": 80}]}]'
jcheck "... stores them as '1024' and '2048', Fargate-compatible, hostPort = containerPort in awsvpc" "$TMP/out" \
	"(t := d['taskDefinition']) is not None and t['cpu'] == '1024' and t['memory'] == '2048'
	and t['requiresCompatibilities'] == ['FARGATE'] and 'FARGATE' in t['compatibilities']
	and t['containerDefinitions'][0]['portMappings'] == [{'containerPort': 80, 'hostPort': 80, 'protocol': 'tcp'}]"
ok "register with cpu '0.25 vcpu' and memory '0.5 GB'" aws1 ecs register-task-definition --family sized \
	--requires-compatibilities FARGATE --network-mode awsvpc --cpu "0.25 vcpu" --memory "0.5 GB" \
	--container-definitions '[{"name": "web", "image": "nginx"}]'
jcheck "... stores '256' and '512'" "$TMP/out" \
	"d['taskDefinition']['cpu'] == '256' and d['taskDefinition']['memory'] == '512' and d['taskDefinition']['revision'] == 2"
fails_like "cpu 'lots' is refused, naming cpu" "ClientException\|InvalidParameterException" "'cpu'" \
	aws1 ecs register-task-definition --family bad --cpu lots --memory 512 \
	--container-definitions '[{"name": "web", "image": "nginx"}]'

# --- validation refusals (each names what is wrong) ---
reg() { aws1 ecs register-task-definition --family bad "$@"; }
c1='{"name": "a", "image": "nginx", "memory": 128'
fails_like "no essential container" ClientException "essential" \
	reg --container-definitions "[$c1, \"essential\": false}, {\"name\": \"b\", \"image\": \"x\", \"memory\": 64, \"essential\": false}]"
fails_like "duplicate container names" ClientException "'a'" \
	reg --container-definitions "[$c1}, $c1}]"
fails_like "memory below memoryReservation" ClientException "memoryReservation.*'web'|'web'.*memoryReservation" \
	reg --container-definitions '[{"name": "web", "image": "x", "memory": 128, "memoryReservation": 256}]'
fails_like "neither memory nor memoryReservation without task memory" ClientException "'web'" \
	reg --container-definitions '[{"name": "web", "image": "x"}]'
fails_like "container memory over the task memory" ClientException "'web'" \
	reg --cpu 256 --memory 512 --container-definitions '[{"name": "web", "image": "x", "memory": 1024}]'
fails_like "dependsOn cycle" ClientException "cycle.*(a -> b|b -> a)" \
	reg --container-definitions '[{"name": "a", "image": "x", "memory": 64, "dependsOn": [{"containerName": "b", "condition": "START"}]},
		{"name": "b", "image": "x", "memory": 64, "dependsOn": [{"containerName": "a", "condition": "START"}]}]'
fails_like "dependsOn an unknown container" ClientException "'zz'" \
	reg --container-definitions "[$c1, \"dependsOn\": [{\"containerName\": \"zz\", \"condition\": \"START\"}]}]"
fails_like "COMPLETE condition on an essential container" ClientException "'b'" \
	reg --container-definitions "[$c1, \"dependsOn\": [{\"containerName\": \"b\", \"condition\": \"COMPLETE\"}]},
		{\"name\": \"b\", \"image\": \"x\", \"memory\": 64}]"
fails_like "awsvpc hostPort different from containerPort" ClientException "awsvpc.*host ports" \
	reg --network-mode awsvpc --container-definitions '[{"name": "web", "image": "x", "memory": 128,
		"portMappings": [{"containerPort": 80, "hostPort": 8080}]}]'
fails_like "links in awsvpc mode" ClientException "'links'.*'web'|'web'.*links" \
	reg --network-mode awsvpc --container-definitions '[{"name": "web", "image": "x", "memory": 128, "links": ["db"]},
		{"name": "db", "image": "x", "memory": 128}]'
fails_like "a link to an unknown container" ClientException "'nope'" \
	reg --container-definitions '[{"name": "web", "image": "x", "memory": 128, "links": ["nope"]}]'
fails_like "Fargate cpu/memory not in the table (256 CPU, 4096 MiB)" ClientException "Fargate.*256.*4096" \
	reg --network-mode awsvpc --requires-compatibilities FARGATE --cpu 256 --memory 4096 \
	--container-definitions '[{"name": "web", "image": "x"}]'
fails_like "Fargate without task-level cpu" ClientException "Fargate.*'cpu'" \
	reg --network-mode awsvpc --requires-compatibilities FARGATE --memory 512 \
	--container-definitions '[{"name": "web", "image": "x", "memory": 256}]'
fails_like "Fargate in bridge mode" ClientException "Fargate.*awsvpc" \
	reg --requires-compatibilities FARGATE --cpu 256 --memory 512 --container-definitions '[{"name": "web", "image": "x"}]'
fails_like "the same container port twice" ClientException "'web'.*80" \
	reg --container-definitions '[{"name": "web", "image": "x", "memory": 128,
		"portMappings": [{"containerPort": 80, "hostPort": 80}, {"containerPort": 80, "hostPort": 80}]}]'
fails_like "the same host port in two containers" ClientException "8080" \
	reg --container-definitions '[{"name": "a", "image": "x", "memory": 64, "portMappings": [{"containerPort": 80, "hostPort": 8080}]},
		{"name": "b", "image": "x", "memory": 64, "portMappings": [{"containerPort": 81, "hostPort": 8080}]}]'
fails_like "healthCheck interval out of range" ClientException "healthCheck.*'web'|'web'.*healthCheck" \
	reg --container-definitions '[{"name": "web", "image": "x", "memory": 128,
		"healthCheck": {"command": ["CMD", "true"], "interval": 1}}]'
fails_like "more than 10 containers" ClientException "10" \
	reg --container-definitions "$(python3 -c 'import json; print(json.dumps([{"name": "c%d" % i, "image": "x", "memory": 64} for i in range(11)]))')"
fails_like "a family name with a space" ClientException "'bad family'" \
	aws1 ecs register-task-definition --family "bad family" --container-definitions "[$c1}]"
fails_like "a container name with a space" ClientException "'we b'" \
	reg --container-definitions '[{"name": "we b", "image": "x", "memory": 128}]'
fails_like "a container without an image" ClientException "image" \
	reg --container-definitions '[{"name": "web", "memory": 128}]'
fails_like "a task definition over 64 KiB" ClientException "65536" \
	reg --container-definitions "$(python3 -c 'import json; print(json.dumps([{"name": "c", "image": "x", "memory": 64,
		"environment": [{"name": "E%d" % i, "value": "v" * 100} for i in range(700)]}]))')"
ok "list-task-definition-families after the refusals" aws1 ecs list-task-definition-families --status ALL
jcheck "... no refused registration left a family behind" "$TMP/out" "'bad' not in d['families'] and 'bad family' not in d['families']"

# --- deregister / delete ---
has_delete_tds() { ! "$@" ecs delete-task-definitions --task-definitions x:1 2>&1 | grep -q "Invalid choice"; }
raw_delete_tds() { # --task-definitions REF...: DeleteTaskDefinitions signed by hand; prints the answer
	shift
	e2epy - "$ENDPOINT" "$@" <<'EOF'
import json, sys, e2elib
r = e2elib.call(sys.argv[1], "DeleteTaskDefinitions", {"taskDefinitions": sys.argv[2:]})
if r.status != 200:
    sys.stderr.write("An error occurred (%s): %s\n" % ((r.json or {}).get("__type"), r.body))
print(json.dumps(r.json, indent=1))
sys.exit(0 if r.status == 200 else 1)
EOF
}
for v in "${clis[@]}"; do
	cli=aws$v
	# DeleteTaskDefinitions (2023) is newer than Debian 12's CLI v2 2.9 and boto3 1.26: use the
	# first CLI that has it, else a request signed by hand.
	dcli="$cli ecs delete-task-definitions"
	if ! has_delete_tds "$cli"; then
		if has_delete_tds aws1; then
			diag "v$v: this CLI has no delete-task-definitions; the v1 CLI deletes in this pass"
			dcli="aws1 ecs delete-task-definitions"
		else
			diag "v$v: no CLI here has delete-task-definitions; a signed raw request deletes in this pass"
			dcli=raw_delete_tds
		fi
	fi
	ok "v$v: register cycle-$v:1" $cli ecs register-task-definition --family cycle-$v --container-definitions "[$c1}]"
	ok "v$v: register cycle-$v:2" $cli ecs register-task-definition --family cycle-$v --container-definitions "[$c1}]"
	ok "v$v: deregister-task-definition cycle-$v:1" $cli ecs deregister-task-definition --task-definition cycle-$v:1
	jcheck "v$v: ... answers it INACTIVE with deregisteredAt" "$TMP/out" \
		"d['taskDefinition']['status'] == 'INACTIVE' and d['taskDefinition']['revision'] == 1
		and d['taskDefinition'].get('deregisteredAt')"
	ok "v$v: describe-task-definition cycle-$v:1 still works" $cli ecs describe-task-definition --task-definition cycle-$v:1
	jcheck "v$v: ... and says INACTIVE" "$TMP/out" "d['taskDefinition']['status'] == 'INACTIVE'"
	ok "v$v: list-task-definitions --family-prefix cycle-$v" $cli ecs list-task-definitions --family-prefix cycle-$v
	jcheck "v$v: ... lists only the ACTIVE revision" "$TMP/out" "d['taskDefinitionArns'] == ['$TD/cycle-$v:2']"
	ok "v$v: list-task-definitions --status INACTIVE" $cli ecs list-task-definitions --family-prefix cycle-$v --status INACTIVE
	jcheck "v$v: ... lists the deregistered one" "$TMP/out" "d['taskDefinitionArns'] == ['$TD/cycle-$v:1']"
	fails_like "v$v: deregister without a revision is refused" "ClientException\|InvalidParameterException" "cycle-$v" \
		$cli ecs deregister-task-definition --task-definition cycle-$v
	ok "v$v: delete-task-definitions with ACTIVE, INACTIVE and unknown revisions" \
		$dcli --task-definitions cycle-$v:1 cycle-$v:2 cycle-$v:7
	jcheck "v$v: ... deletes the INACTIVE one (DELETE_IN_PROGRESS)" "$TMP/out" \
		"[(t['revision'], t['status']) for t in d['taskDefinitions']] == [(1, 'DELETE_IN_PROGRESS')]"
	jcheck "v$v: ... and reports the ACTIVE and the unknown ones as failures" "$TMP/out" \
		"sorted(f['arn'] for f in d['failures']) == ['cycle-$v:2', 'cycle-$v:7']
		and all(f.get('reason') for f in d['failures'])"
	ok "v$v: list-task-definitions --status DELETE_IN_PROGRESS" \
		$cli ecs list-task-definitions --family-prefix cycle-$v --status DELETE_IN_PROGRESS
	jcheck "v$v: ... lists the deleted revision" "$TMP/out" "d['taskDefinitionArns'] == ['$TD/cycle-$v:1']"
	ok "v$v: register cycle-$v again" $cli ecs register-task-definition --family cycle-$v --container-definitions "[$c1}]"
	jcheck "v$v: ... gets revision 3: numbers are never reused" "$TMP/out" "d['taskDefinition']['revision'] == 3"
	ok "v$v: deregister cycle-$v:2 and :3" $cli ecs deregister-task-definition --task-definition "$TD/cycle-$v:2"
	ok "v$v: deregister cycle-$v:3 by ARN" $cli ecs deregister-task-definition --task-definition "$TD/cycle-$v:3"
	fails_with "v$v: describe-task-definition cycle-$v (no ACTIVE revision left)" ClientException \
		$cli ecs describe-task-definition --task-definition cycle-$v
	ok "v$v: list-task-definition-families --status INACTIVE" $cli ecs list-task-definition-families --status INACTIVE
	jcheck "v$v: ... has cycle-$v (no ACTIVE revision) and not web-app" "$TMP/out" \
		"'cycle-$v' in d['families'] and 'web-app' not in d['families']"
	ok "v$v: list-task-definition-families --status ACTIVE" $cli ecs list-task-definition-families --status ACTIVE
	jcheck "v$v: ... has web-app and not cycle-$v" "$TMP/out" "'web-app' in d['families'] and 'cycle-$v' not in d['families']"
done
ok "list-task-definition-families with no --status" aws1 ecs list-task-definition-families
# ECS: "By default, both ACTIVE and INACTIVE task definition families are listed."
jcheck "... lists ACTIVE and INACTIVE families alike (ECS's default)" "$TMP/out" \
	"'web-app' in d['families'] and 'cycle-1' in d['families']"
ok "list-task-definition-families --family-prefix cyc --status ALL" \
	aws1 ecs list-task-definition-families --family-prefix cyc --status ALL
jcheck "... is a real prefix match" "$TMP/out" "d['families'] == ['cycle-' + str(v) for v in [$(IFS=,; echo "${clis[*]}")]]"

# --- ordering across families: by family name, then revision ---
ok "register svc" aws1 ecs register-task-definition --family svc --container-definitions "[$c1}]"
ok "register svc-b" aws1 ecs register-task-definition --family svc-b --container-definitions "[$c1}]"
ok "register svc_a" aws1 ecs register-task-definition --family svc_a --container-definitions "[$c1}]"
ok "list-task-definitions (ASC)" aws1 ecs list-task-definitions
# ECS: "task definitions are listed lexicographically by family name and in ascending numerical
# order by revision".
jcheck "... orders families by name: svc before svc-b before svc_a" "$TMP/out" \
	"[a.rsplit('/', 1)[1] for a in d['taskDefinitionArns'] if '/svc' in a] == ['svc:1', 'svc-b:1', 'svc_a:1']"
ok "list-task-definitions --sort DESC" aws1 ecs list-task-definitions --sort DESC
jcheck "... reverses it: web-app:$rev first, and svc_a, svc-b, svc" "$TMP/out" \
	"d['taskDefinitionArns'][0] == '$TD/web-app:$rev'
	and [a.rsplit('/', 1)[1] for a in d['taskDefinitionArns'] if '/svc' in a] == ['svc_a:1', 'svc-b:1', 'svc:1']"
fails_with "list-task-definitions --sort SIDEWAYS is refused" InvalidParameterException \
	aws1 ecs list-task-definitions --sort SIDEWAYS

# --- paging: 105 revisions of one family and 105 families, made quickly through boto3 ---
T_N=$((T_N + 1))
if e2epy - "$ENDPOINT" >"$TMP/mk.log" 2>&1 <<'EOF'
import sys, e2elib
ecs = e2elib.client(sys.argv[1])
cd = [{"name": "web", "image": "nginx", "memory": 64}]
for i in range(105):
    r = ecs.register_task_definition(family="many", containerDefinitions=cd)
    assert r["taskDefinition"]["revision"] == i + 1, r["taskDefinition"]["revision"]
for i in range(105):
    ecs.register_task_definition(family="fam-%03d" % i, containerDefinitions=cd)
EOF
then echo "ok $T_N - 105 revisions of 'many' and 105 families registered through boto3"
else echo "not ok $T_N - 105 revisions and 105 families registered through boto3"; T_FAILED=$((T_FAILED + 1)); sed 's/^/#   /' "$TMP/mk.log" | tail -5
fi
e2epy -c "import json; print(json.dumps(['$TD/many:%d' % i for i in range(1, 106)]))" >"$TMP/many.json"
for v in "${clis[@]}"; do
	cli=aws$v
	ok "v$v: list-task-definitions --family-prefix many --no-paginate" $cli ecs list-task-definitions --family-prefix many --no-paginate
	jcheck "v$v: ... one page holds 100 and a nextToken" "$TMP/out" \
		"d['taskDefinitionArns'] == json.load(open('$TMP/many.json'))[:100] and d.get('nextToken')"
	ok "v$v: list-task-definitions --family-prefix many (automatic paging)" $cli ecs list-task-definitions --family-prefix many
	jcheck "v$v: ... all 105 in revision order" "$TMP/out" "d['taskDefinitionArns'] == json.load(open('$TMP/many.json'))"
	ok "v$v: ... --sort DESC" $cli ecs list-task-definitions --family-prefix many --sort DESC
	jcheck "v$v: ... all 105, newest first" "$TMP/out" "d['taskDefinitionArns'] == json.load(open('$TMP/many.json'))[::-1]"
	ok "v$v: ... --sort DESC --max-items 7" $cli ecs list-task-definitions --family-prefix many --sort DESC --max-items 7
	jcheck "v$v: ... the newest 7 and a NextToken" "$TMP/out" \
		"d['taskDefinitionArns'] == json.load(open('$TMP/many.json'))[::-1][:7] and d.get('NextToken')"
	tok=$(jget "$TMP/out" "d.get('NextToken', '')")
	ok "v$v: ... --starting-token" $cli ecs list-task-definitions --family-prefix many --sort DESC --max-items 7 --starting-token "$tok"
	jcheck "v$v: ... the next 7" "$TMP/out" "d['taskDefinitionArns'] == json.load(open('$TMP/many.json'))[::-1][7:14]"
	ok "v$v: ... --max-items 98 then the rest" $cli ecs list-task-definitions --family-prefix many --max-items 98
	tok=$(jget "$TMP/out" "d.get('NextToken', '')")
	cp "$TMP/out" "$TMP/first.json"
	ok "v$v: ... --starting-token across the server's page boundary" \
		$cli ecs list-task-definitions --family-prefix many --max-items 98 --starting-token "$tok"
	jcheck "v$v: ... the two parts are all 105 in order" "$TMP/out" \
		"json.load(open('$TMP/first.json'))['taskDefinitionArns'] + d['taskDefinitionArns'] == json.load(open('$TMP/many.json'))
		and not d.get('NextToken')"
	ok "v$v: list-task-definition-families --family-prefix fam- (automatic paging)" \
		$cli ecs list-task-definition-families --family-prefix fam-
	jcheck "v$v: ... all 105 families, sorted" "$TMP/out" "d['families'] == ['fam-%03d' % i for i in range(105)]"
	ok "v$v: list-task-definition-families --max-items 7 --family-prefix fam-" \
		$cli ecs list-task-definition-families --family-prefix fam- --max-items 7
	tok=$(jget "$TMP/out" "d.get('NextToken', '')")
	ok "v$v: ... --starting-token" $cli ecs list-task-definition-families --family-prefix fam- --max-items 7 --starting-token "$tok"
	jcheck "v$v: ... the next 7 families" "$TMP/out" "d['families'] == ['fam-%03d' % i for i in range(7, 14)]"
done
ok "list-task-definitions with no filter (automatic paging over every family)" aws1 ecs list-task-definitions
jcheck "... every ACTIVE revision once: 105 + 105 + the rest" "$TMP/out" \
	"(a := d['taskDefinitionArns']) is not None and len(a) == len(set(a)) and len([x for x in a if '/many:' in x]) == 105
	and len([x for x in a if '/fam-' in x]) == 105 and '$TD/web-app:1' in a"

done_testing
