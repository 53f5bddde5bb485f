#!/bin/bash
# Clusters through both AWS CLIs (v1 and v2): create (idempotent on the name, `default` when no name,
# tags, settings, configuration), describe (include, failures MISSING), list with the CLI's automatic
# paging over more than 100 clusters, update-cluster, update-cluster-settings, delete (INACTIVE), and
# tag-resource / untag-resource / list-tags-for-resource on clusters.
source "$(dirname "$0")/lib.sh"
start_server

ARN_PREFIX=arn:aws:ecs:us-east-1:$ACCT_A:cluster

clis=(1)
if have_aws2 && [ "$(readlink -f "$AWS1")" != "$(readlink -f "$AWS2")" ]; then
	clis+=(2)
else
	diag "only one AWS CLI on this machine: the v2 pass is skipped"
fi

for v in "${clis[@]}"; do
	cli=aws$v
	c=v$v # this CLI's cluster names start with v1- / v2-

	# --- create ---
	ok "v$v: create-cluster with tags, settings and configuration" \
		$cli ecs create-cluster --cluster-name $c-web --tags key=team,value=core key=env,value=dev \
		--settings name=containerInsights,value=enabled \
		--configuration '{"executeCommandConfiguration": {"logging": "DEFAULT"}}'
	jcheck "v$v: the new cluster is ACTIVE with its long ARN, tags, settings, configuration and zero counts" \
		"$TMP/out" "(c := d['cluster']) is not None and c['status'] == 'ACTIVE' and c['clusterName'] == '$c-web'
		and c['clusterArn'] == '$ARN_PREFIX/$c-web'
		and sorted((t['key'], t['value']) for t in c['tags']) == [('env', 'dev'), ('team', 'core')]
		and c['settings'] == [{'name': 'containerInsights', 'value': 'enabled'}]
		and c['configuration'] == {'executeCommandConfiguration': {'logging': 'DEFAULT'}}
		and c['registeredContainerInstancesCount'] == 0 and c['runningTasksCount'] == 0
		and c['pendingTasksCount'] == 0 and c['activeServicesCount'] == 0"
	ok "v$v: create-cluster again with the same name succeeds" $cli ecs create-cluster --cluster-name $c-web
	jcheck "v$v: ... and answers the existing cluster (same ARN, tags and settings kept)" "$TMP/out" \
		"(c := d['cluster']) is not None and c['clusterArn'] == '$ARN_PREFIX/$c-web' and c['status'] == 'ACTIVE'
		and len(c['tags']) == 2 and c['settings'] == [{'name': 'containerInsights', 'value': 'enabled'}]"
	ok "v$v: create-cluster without a name" $cli ecs create-cluster
	jcheck "v$v: ... creates (or answers) the cluster named default" "$TMP/out" \
		"d['cluster']['clusterName'] == 'default' and d['cluster']['clusterArn'] == '$ARN_PREFIX/default'
		and d['cluster']['status'] == 'ACTIVE'"
	fails_like "v$v: a cluster name with a space is refused" InvalidParameterException "[Cc]luster name" \
		$cli ecs create-cluster --cluster-name "bad name"
	fails_like "v$v: a 256-character cluster name is refused" InvalidParameterException "[Cc]luster name" \
		$cli ecs create-cluster --cluster-name "$(printf 'x%.0s' $(seq 256))"
	fails_like "v$v: an unknown cluster setting is refused" InvalidParameterException "setting" \
		$cli ecs create-cluster --cluster-name $c-bad --settings name=noSuchSetting,value=enabled
	fails_like "v$v: a reserved aws: tag key is refused" InvalidParameterException "aws:" \
		$cli ecs create-cluster --cluster-name $c-bad --tags key=aws:owner,value=x

	# --- list ---
	ok "v$v: list-clusters" $cli ecs list-clusters
	jcheck "v$v: list-clusters shows $c-web and default once each, and nothing refused" "$TMP/out" \
		"(a := d['clusterArns']) is not None and a.count('$ARN_PREFIX/$c-web') == 1 and a.count('$ARN_PREFIX/default') == 1
		and not any(x.endswith('-bad') for x in a)"

	# --- describe ---
	ok "v$v: describe-clusters with every include and two unknown clusters" \
		$cli ecs describe-clusters --clusters $c-web no-such-cluster "$ARN_PREFIX/no-such-arn" \
		--include SETTINGS STATISTICS TAGS CONFIGURATIONS
	jcheck "v$v: ... the cluster comes with settings, tags and configuration" "$TMP/out" \
		"len(d['clusters']) == 1 and (lambda c: c['clusterName'] == '$c-web'
		and c['settings'] == [{'name': 'containerInsights', 'value': 'enabled'}]
		and sorted(t['key'] for t in c['tags']) == ['env', 'team']
		and c['configuration']['executeCommandConfiguration']['logging'] == 'DEFAULT')(d['clusters'][0])"
	jcheck "v$v: ... STATISTICS lists the task and service counts as name/value strings" "$TMP/out" \
		"(s := {x['name']: x['value'] for x in d['clusters'][0]['statistics']}) is not None and all(s.get(k) == '0' for k in ['runningEC2TasksCount', 'runningFargateTasksCount',
		'pendingEC2TasksCount', 'pendingFargateTasksCount', 'activeEC2ServiceCount', 'activeFargateServiceCount',
		'drainingEC2ServiceCount', 'drainingFargateServiceCount'])"
	jcheck "v$v: ... the unknown ones are failures with reason MISSING and their full ARNs" "$TMP/out" \
		"sorted((f['arn'], f['reason']) for f in d['failures']) ==
		[('$ARN_PREFIX/no-such-arn', 'MISSING'), ('$ARN_PREFIX/no-such-cluster', 'MISSING')]"
	ok "v$v: describe-clusters by ARN without include" $cli ecs describe-clusters --clusters "$ARN_PREFIX/$c-web"
	jcheck "v$v: ... leaves out tags, settings, configuration and statistics" "$TMP/out" \
		"(c := d['clusters'][0]) is not None and c['clusterName'] == '$c-web' and d['failures'] == [] and 'tags' not in c
		and 'settings' not in c and 'configuration' not in c and not c.get('statistics')"
	ok "v$v: describe-clusters without --clusters" $cli ecs describe-clusters
	jcheck "v$v: ... describes the default cluster" "$TMP/out" \
		"[c['clusterName'] for c in d['clusters']] == ['default'] and d['failures'] == []"

	# --- update-cluster / update-cluster-settings ---
	ok "v$v: update-cluster sets settings and configuration" \
		$cli ecs update-cluster --cluster $c-web --settings name=containerInsights,value=disabled \
		--configuration '{"executeCommandConfiguration": {"logging": "OVERRIDE",
			"logConfiguration": {"cloudWatchLogGroupName": "exec-logs"}}}'
	jcheck "v$v: ... and answers the updated cluster" "$TMP/out" \
		"(c := d['cluster']) is not None and c['settings'] == [{'name': 'containerInsights', 'value': 'disabled'}]
		and c['configuration']['executeCommandConfiguration'] ==
		{'logging': 'OVERRIDE', 'logConfiguration': {'cloudWatchLogGroupName': 'exec-logs'}}"
	ok "v$v: describe-clusters after update-cluster" \
		$cli ecs describe-clusters --clusters $c-web --include SETTINGS CONFIGURATIONS
	jcheck "v$v: ... shows the update" "$TMP/out" \
		"(c := d['clusters'][0]) is not None and c['settings'] == [{'name': 'containerInsights', 'value': 'disabled'}]
		and c['configuration']['executeCommandConfiguration']['logging'] == 'OVERRIDE'"
	fails_like "v$v: update-cluster with logConfiguration but logging DEFAULT is refused" \
		InvalidParameterException "logConfiguration" \
		$cli ecs update-cluster --cluster $c-web --configuration '{"executeCommandConfiguration":
			{"logging": "DEFAULT", "logConfiguration": {"cloudWatchLogGroupName": "x"}}}'
	ok "v$v: update-cluster-settings containerInsights=enhanced" \
		$cli ecs update-cluster-settings --cluster "$ARN_PREFIX/$c-web" --settings name=containerInsights,value=enhanced
	jcheck "v$v: ... answers the cluster with the new setting" "$TMP/out" \
		"d['cluster']['clusterName'] == '$c-web'
		and d['cluster']['settings'] == [{'name': 'containerInsights', 'value': 'enhanced'}]"
	ok "v$v: describe-clusters after update-cluster-settings" $cli ecs describe-clusters --clusters $c-web --include SETTINGS
	jcheck "v$v: ... shows containerInsights=enhanced" "$TMP/out" \
		"d['clusters'][0]['settings'] == [{'name': 'containerInsights', 'value': 'enhanced'}]"
	fails_like "v$v: update-cluster-settings with a bad value is refused" InvalidParameterException "containerInsights" \
		$cli ecs update-cluster-settings --cluster $c-web --settings name=containerInsights,value=sometimes
	fails_with "v$v: update-cluster on a missing cluster" ClusterNotFoundException \
		$cli ecs update-cluster --cluster no-such-cluster --settings name=containerInsights,value=enabled
	fails_with "v$v: update-cluster-settings on a missing cluster" ClusterNotFoundException \
		$cli ecs update-cluster-settings --cluster no-such-cluster --settings name=containerInsights,value=enabled

	# --- tags ---
	ok "v$v: tag-resource adds two tags and overwrites one" \
		$cli ecs tag-resource --resource-arn "$ARN_PREFIX/$c-web" --tags key=env,value=prod key=tier,value=front key=cost,value=
	ok "v$v: list-tags-for-resource" $cli ecs list-tags-for-resource --resource-arn "$ARN_PREFIX/$c-web"
	jcheck "v$v: ... shows the merged tags" "$TMP/out" \
		"sorted((t['key'], t.get('value')) for t in d['tags']) ==
		[('cost', ''), ('env', 'prod'), ('team', 'core'), ('tier', 'front')]"
	ok "v$v: untag-resource removes two keys (one of them absent)" \
		$cli ecs untag-resource --resource-arn "$ARN_PREFIX/$c-web" --tag-keys env no-such-key
	ok "v$v: list-tags-for-resource after untag" $cli ecs list-tags-for-resource --resource-arn "$ARN_PREFIX/$c-web"
	jcheck "v$v: ... env is gone, the rest stays" "$TMP/out" \
		"sorted(t['key'] for t in d['tags']) == ['cost', 'team', 'tier']"
	ok "v$v: describe-clusters --include TAGS" $cli ecs describe-clusters --clusters $c-web --include TAGS
	jcheck "v$v: ... agrees with list-tags-for-resource" "$TMP/out" \
		"sorted(t['key'] for t in d['clusters'][0]['tags']) == ['cost', 'team', 'tier']"
	fails_like "v$v: tag-resource with an aws: key is refused" InvalidParameterException "aws:" \
		$cli ecs tag-resource --resource-arn "$ARN_PREFIX/$c-web" --tags key=aws:x,value=1
	fails_with "v$v: tag-resource on a missing cluster" ClusterNotFoundException \
		$cli ecs tag-resource --resource-arn "$ARN_PREFIX/no-such-cluster" --tags key=a,value=1
	fails_with "v$v: list-tags-for-resource on a missing cluster" ClusterNotFoundException \
		$cli ecs list-tags-for-resource --resource-arn "$ARN_PREFIX/no-such-cluster"
	fails_with "v$v: list-tags-for-resource with a malformed ARN" InvalidParameterException \
		$cli ecs list-tags-for-resource --resource-arn "not-an-arn"

	# --- delete ---
	ok "v$v: create-cluster $c-gone" $cli ecs create-cluster --cluster-name $c-gone
	ok "v$v: delete-cluster $c-gone" $cli ecs delete-cluster --cluster $c-gone
	jcheck "v$v: ... answers the cluster as INACTIVE" "$TMP/out" \
		"d['cluster']['clusterName'] == '$c-gone' and d['cluster']['status'] == 'INACTIVE'
		and d['cluster']['clusterArn'] == '$ARN_PREFIX/$c-gone'"
	ok "v$v: describe-clusters on the deleted cluster" $cli ecs describe-clusters --clusters $c-gone
	jcheck "v$v: ... still describes it, as INACTIVE (not a failure)" "$TMP/out" \
		"[(c['clusterName'], c['status']) for c in d['clusters']] == [('$c-gone', 'INACTIVE')] and d['failures'] == []"
	ok "v$v: list-clusters after delete" $cli ecs list-clusters
	jcheck "v$v: ... no longer lists it" "$TMP/out" "'$ARN_PREFIX/$c-gone' not in d['clusterArns']
		and '$ARN_PREFIX/$c-web' in d['clusterArns']"
	fails_with "v$v: delete-cluster again" ClusterNotFoundException $cli ecs delete-cluster --cluster $c-gone
	fails_with "v$v: update-cluster-settings on the INACTIVE cluster" ClusterNotFoundException \
		$cli ecs update-cluster-settings --cluster $c-gone --settings name=containerInsights,value=enabled
	fails_with "v$v: delete-cluster on a cluster that never existed" ClusterNotFoundException \
		$cli ecs delete-cluster --cluster never-was
	ok "v$v: create-cluster reuses the deleted name" $cli ecs create-cluster --cluster-name $c-gone
	jcheck "v$v: ... as a fresh ACTIVE cluster" "$TMP/out" \
		"d['cluster']['status'] == 'ACTIVE' and d['cluster']['clusterArn'] == '$ARN_PREFIX/$c-gone'"
	ok "v$v: delete-cluster by ARN" $cli ecs delete-cluster --cluster "$ARN_PREFIX/$c-gone"
	jcheck "v$v: ... INACTIVE again" "$TMP/out" "d['cluster']['status'] == 'INACTIVE'"
done

# --- pagination: 120 more clusters, made quickly through boto3 ---
T_N=$((T_N + 1))
if e2epy - "$ENDPOINT" >"$TMP/mk.log" 2>&1 <<'EOF'
import sys, e2elib
ecs = e2elib.client(sys.argv[1])
for i in range(120):
    ecs.create_cluster(clusterName="page-%03d" % i)
EOF
then echo "ok $T_N - 120 clusters created through boto3"
else echo "not ok $T_N - 120 clusters created through boto3"; T_FAILED=$((T_FAILED + 1)); sed 's/^/#   /' "$TMP/mk.log" | tail -5
fi
# Every ACTIVE cluster, as the server knows them, to compare the CLIs' paging against.
e2epy - "$ENDPOINT" >"$TMP/all.json" <<'EOF'
import json, sys, e2elib
ecs = e2elib.client(sys.argv[1])
arns, kw = [], {}
while True:
    r = ecs.list_clusters(maxResults=100, **kw)
    arns += r["clusterArns"]
    if not r.get("nextToken"):
        break
    kw = {"nextToken": r["nextToken"]}
print(json.dumps(arns))
EOF
check "boto3 walks the pages to 120 page-* clusters" jtrue "$TMP/all.json" \
	"len([a for a in d if '/page-' in a]) == 120 and len(set(d)) == len(d)"

for v in "${clis[@]}"; do
	cli=aws$v
	ok "v$v: list-clusters --no-paginate" $cli ecs list-clusters --no-paginate
	jcheck "v$v: ... one page is at most 100 clusters and carries a nextToken" "$TMP/out" \
		"len(d['clusterArns']) == 100 and d.get('nextToken')"
	ok "v$v: list-clusters (automatic paging)" $cli ecs list-clusters
	cp "$TMP/out" "$TMP/auto.json"
	check "v$v: ... returns every cluster exactly once, in the server's order" \
		e2epy -c "import json,sys; a=json.load(open(sys.argv[1]))['clusterArns']; b=json.load(open(sys.argv[2]));
sys.exit(0 if a == b and len(b) >= 121 else 1)" "$TMP/auto.json" "$TMP/all.json"
	ok "v$v: list-clusters --page-size 25" $cli ecs list-clusters --page-size 25
	check "v$v: ... small pages still add up to every cluster" \
		e2epy -c "import json,sys; a=json.load(open(sys.argv[1]))['clusterArns']; b=json.load(open(sys.argv[2]));
sys.exit(0 if a == b else 1)" "$TMP/out" "$TMP/all.json"
	ok "v$v: list-clusters --max-items 7" $cli ecs list-clusters --max-items 7
	cp "$TMP/out" "$TMP/p1.json"
	jcheck "v$v: ... answers the first 7 and a NextToken" "$TMP/p1.json" \
		"d['clusterArns'] == json.load(open('$TMP/all.json'))[:7] and d.get('NextToken')"
	tok=$(jget "$TMP/p1.json" "d.get('NextToken', '')")
	ok "v$v: list-clusters --max-items 7 --starting-token" $cli ecs list-clusters --max-items 7 --starting-token "$tok"
	jcheck "v$v: ... answers the next 7" "$TMP/out" "d['clusterArns'] == json.load(open('$TMP/all.json'))[7:14]"
	# Walk all of it 50 at a time through the CLI's tokens: pages cross the server's 100 boundary.
	: >"$TMP/walk.txt"
	tok='' walked=0 rounds=0
	while [ $rounds -lt 10 ]; do
		rounds=$((rounds + 1))
		if [ -z "$tok" ]; then $cli ecs list-clusters --max-items 50 >"$TMP/pg.json" 2>"$TMP/err" || break
		else $cli ecs list-clusters --max-items 50 --starting-token "$tok" >"$TMP/pg.json" 2>"$TMP/err" || break; fi
		jget "$TMP/pg.json" "'\n'.join(d['clusterArns'])" >>"$TMP/walk.txt"
		tok=$(jget "$TMP/pg.json" "d.get('NextToken', '')")
		[ -z "$tok" ] && { walked=1; break; }
	done
	check "v$v: --max-items 50 / --starting-token walk ends" test "$walked" = 1
	check "v$v: ... and visits every cluster exactly once, in order" \
		e2epy -c "import json,sys; a=open(sys.argv[1]).read().split(); b=json.load(open(sys.argv[2]));
sys.exit(0 if a == b else 1)" "$TMP/walk.txt" "$TMP/all.json"
done
fails_with "list-clusters --page-size 101 (maxResults over 100) is refused" InvalidParameterException \
	aws1 ecs list-clusters --page-size 101
fails_with "list-clusters with a forged nextToken is refused" InvalidParameterException \
	aws1 ecs list-clusters --no-paginate --next-token bm90LWEtdG9rZW4=

done_testing
