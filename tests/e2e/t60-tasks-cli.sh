#!/bin/bash
# Tasks and placement through the stock AWS CLIs (v1 and v2) against three hollow agents of
# different sizes and attributes: binpack, spread, memberOf, distinctInstance, failures, draining,
# the waiters, and resources going down and back up exactly.
source "$(dirname "$0")/lib.sh"
start_server --agent-timeout 5
C=hosts

start_agent() { # name cpu memory attributes...
	local name=$1 cpu=$2 mem=$3; shift 3
	local args=()
	for a in "$@"; do args+=(--attribute "$a"); done
	"$GANTRY_BIN" agent --server "$ENDPOINT" --cluster "$C" --runtime fake --cpu "$cpu" --memory "$mem" \
		--state "$TMP/agent-$name" "${args[@]}" >>"$TMP/agent-$name.log" 2>&1 &
	EXTRA_PIDS+=($!)
}

ok "create the cluster" aws1 ecs create-cluster --cluster-name "$C"
start_agent a 2048 4096 ecs.availability-zone=us-east-1a stack=prod
start_agent b 2048 4096 ecs.availability-zone=us-east-1b stack=prod
start_agent c 1024 2048 ecs.availability-zone=us-east-1c stack=test
for _ in $(seq 1 100); do
	n=$(aws1 ecs list-container-instances --cluster "$C" --query 'length(containerInstanceArns)' --output text 2>/dev/null)
	[ "$n" = 3 ] && break
	sleep 0.2
done
check "three hollow agents registered" test "$n" = 3
ok "register a small task definition" aws2 ecs register-task-definition --family small \
	--container-definitions '[{"name":"app","image":"busybox","cpu":128,"memory":256}]'
ok "register one that fits nowhere" aws2 ecs register-task-definition --family huge \
	--container-definitions '[{"name":"app","image":"busybox","memory":100000}]'

az_of() { # instance arn -> its availability zone
	aws1 ecs describe-container-instances --cluster "$C" --container-instances "$1" \
		--query "containerInstances[0].attributes[?name=='ecs.availability-zone'].value | [0]" --output text
}
mem_of() { # zone -> remaining memory
	local arn
	for arn in $(aws1 ecs list-container-instances --cluster "$C" --query 'containerInstanceArns[]' --output text); do
		if [ "$(az_of "$arn")" = "$1" ]; then
			aws1 ecs describe-container-instances --cluster "$C" --container-instances "$arn" \
				--query "containerInstances[0].remainingResources[?name=='MEMORY'].integerValue | [0]" --output text
		fi
	done
}
stop_all() {
	local arns
	arns=$(aws1 ecs list-tasks --cluster "$C" --query 'taskArns[]' --output text)
	[ -z "$arns" ] && return 0
	for t in $arns; do aws1 ecs stop-task --cluster "$C" --task "$t" >/dev/null; done
	aws1 ecs wait tasks-stopped --cluster "$C" --tasks $arns
}

mem_a=$(mem_of us-east-1a); mem_c=$(mem_of us-east-1c)
ok "run-task --count 10 with binpack on memory (CLI v2)" aws2 ecs run-task --cluster "$C" --task-definition small \
	--count 10 --placement-strategy type=binpack,field=memory
jcheck "binpack fills the smallest instance first: 8 there, 2 on one other" "$TMP/out" \
	"sorted(__import__('collections').Counter(t['containerInstanceArn'] for t in d['tasks']).values()) == [2, 8]"
arns=$(jget "$TMP/out" "' '.join(t['taskArn'] for t in d['tasks'])")
ok "aws ecs wait tasks-running succeeds (CLI v1)" aws1 ecs wait tasks-running --cluster "$C" --tasks $arns
check "remaining memory went down exactly on the smallest instance" test "$(mem_of us-east-1c)" = $((mem_c - 8 * 256))
ok "stop them" stop_all
check "remaining memory back up exactly" test "$(mem_of us-east-1c)" = "$mem_c" -a "$(mem_of us-east-1a)" = "$mem_a"

ok "spread on instanceId (CLI v1)" aws1 ecs run-task --cluster "$C" --task-definition small --count 9 \
	--placement-strategy type=spread,field=instanceId
jcheck "spread balances 3/3/3" "$TMP/out" \
	"sorted(__import__('collections').Counter(t['containerInstanceArn'] for t in d['tasks']).values()) == [3, 3, 3]"
ok "stop them" stop_all

ok "memberOf attribute:stack == test (CLI v2)" aws2 ecs run-task --cluster "$C" --task-definition small --count 3 \
	--placement-constraints 'type=memberOf,expression=attribute:stack == test'
cinst=$(jget "$TMP/out" "d['tasks'][0]['containerInstanceArn']")
check "memberOf picks only the matching instance" test "$(az_of "$cinst")" = us-east-1c
jcheck "all three on it" "$TMP/out" "len({t['containerInstanceArn'] for t in d['tasks']}) == 1 and len(d['tasks']) == 3"
ok "stop them" stop_all

ok "distinctInstance with count 5" aws1 ecs run-task --cluster "$C" --task-definition small --count 5 \
	--placement-constraints type=distinctInstance
jcheck "never doubles up: 3 placed on 3 instances" "$TMP/out" \
	"len(d['tasks']) == 3 and len({t['containerInstanceArn'] for t in d['tasks']}) == 3"
jcheck "the other 2 in failures with ECS's reason" "$TMP/out" \
	"[f['reason'] for f in d['failures']] == ['DistinctInstance placement constraint unsatisfied.'] * 2"
ok "stop them" stop_all

ok "a task that fits nowhere" aws2 ecs run-task --cluster "$C" --task-definition huge
jcheck "comes back in failures as RESOURCE:MEMORY" "$TMP/out" \
	"d['tasks'] == [] and d['failures'][0]['reason'] == 'RESOURCE:MEMORY'"
fails_like "a malformed memberOf expression names the offending token" InvalidParameterException "position" \
	aws1 ecs run-task --cluster "$C" --task-definition small \
	--placement-constraints 'type=memberOf,expression=attribute:stack =='

# =~ takes Java's regular expressions, whole-value, run in linear time whatever the pattern
ok "list-container-instances --filter with a Java-syntax pattern (CLI v2)" aws2 ecs list-container-instances \
	--cluster "$C" --filter 'attribute:ecs.availability-zone =~ (?:us|eu)-east-\d[ab]'
jcheck "selects the two instances in 1a and 1b" "$TMP/out" "len(d['containerInstanceArns']) == 2"
ok "a pattern that took glibc's regcomp seconds (4,000 empty groups) (CLI v1)" aws1 ecs \
	list-container-instances --cluster "$C" --filter 'attribute:stack =~ (){4000}te(s|){1000}t'
jcheck "selects the one test instance" "$TMP/out" "len(d['containerInstanceArns']) == 1"
fails_like "a pattern compiling past 4096 instructions is refused" InvalidParameterException \
	"repetitions multiply past 4096 instructions" aws2 ecs list-container-instances --cluster "$C" \
	--filter 'attribute:stack =~ (a?){2100}'
fails_like "a run-task memberOf with a lookahead says it is not supported" InvalidParameterException \
	"lookaround" aws1 ecs run-task --cluster "$C" --task-definition small \
	--placement-constraints 'type=memberOf,expression=attribute:stack =~ (?=p).*'

for arn in $(aws1 ecs list-container-instances --cluster "$C" --query 'containerInstanceArns[]' --output text); do
	[ "$(az_of "$arn")" = us-east-1a ] && ia=$arn
done
ok "drain the us-east-1a instance" aws2 ecs update-container-instances-state --cluster "$C" \
	--container-instances "$ia" --status DRAINING
ok "run 10 tasks while it drains" aws1 ecs run-task --cluster "$C" --task-definition small --count 10
jcheck "none goes to the draining instance" "$TMP/out" \
	"d['tasks'] and all(t['containerInstanceArn'] != '$ia' for t in d['tasks'])"
ok "list-container-instances --status DRAINING" aws1 ecs list-container-instances --cluster "$C" --status DRAINING
jcheck "lists exactly it" "$TMP/out" "d['containerInstanceArns'] == ['$ia']"
ok "reactivate it" aws2 ecs update-container-instances-state --cluster "$C" --container-instances "$ia" --status ACTIVE
ok "stop them" stop_all
ok "list-tasks --desired-status STOPPED shows the stopped tasks" aws2 ecs list-tasks --cluster "$C" --desired-status STOPPED
jcheck "they stay visible" "$TMP/out" "len(d['taskArns']) >= 10"

for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
EXTRA_PIDS=()
done_testing
