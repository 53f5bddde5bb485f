#!/bin/bash
# docs/API.md must say "implemented" for exactly the operations the server registers, so that the
# coverage table never claims an operation that answers UnknownOperationException, or hides one.
# The CloudWatch Logs section must list every operation of botocore's Logs model.
source "$(dirname "$0")/lib.sh"
served=$( {
	grep -ohE '\{ ?"[A-Za-z]+", (ecs__|ecr_)[a-z_]+ ?\}' "$ROOT"/src/ecs/*.c "$ROOT"/src/registry/ecr.c
	grep -ohE '\{ ?"[A-Za-z]+", op_[a-z_]+ ?\}' "$ROOT"/src/logs/logs.c
} | sed -E 's/\{ ?"([A-Za-z]+)".*/\1/' | sort -u)
documented=$(grep -E '^\| [A-Za-z]+ \| implemented \|' "$ROOT/docs/API.md" | awk '{print $2}' | sort -u)
check "the server registers operations" test -n "$served"
missing=$(comm -23 <(echo "$served") <(echo "$documented"))
extra=$(comm -13 <(echo "$served") <(echo "$documented"))
[ -n "$missing" ] && echo "# served but not marked implemented: $missing"
[ -n "$extra" ] && echo "# marked implemented but not served: $extra"
check "every served operation is marked implemented in docs/API.md" test -z "$missing"
check "every operation marked implemented is served" test -z "$extra"

# The Logs section (up to the next "## ") against botocore's service model.
logs_doc=$(sed -n '/^## CloudWatch Logs/,/^## [^C]/p' "$ROOT/docs/API.md" | grep -E '^\| [A-Za-z0-9]+ \| (implemented|not yet) \|' |
	awk '{print $2}' | sort -u)
logs_model=$(python3 -c "import botocore.session; print('\n'.join(botocore.session.get_session().get_service_model('logs').operation_names))" 2>/dev/null | sort -u)
check "botocore's Logs model is readable" test -n "$logs_model"
lm=$(comm -23 <(echo "$logs_model") <(echo "$logs_doc"))
[ -n "$lm" ] && echo "# botocore Logs operations missing from docs/API.md: $lm"
check "the Logs section lists every botocore Logs operation" test -z "$lm"
logs_served=$(grep -ohE '\{ ?"[A-Za-z]+", op_[a-z_]+ ?\}' "$ROOT"/src/logs/logs.c | sed -E 's/\{ ?"([A-Za-z]+)".*/\1/' | sort -u)
logs_impl=$(sed -n '/^## CloudWatch Logs/,/^## [^C]/p' "$ROOT/docs/API.md" | grep -E '^\| [A-Za-z]+ \| implemented \|' | awk '{print $2}' | sort -u)
check "the Logs section marks exactly the served Logs operations implemented" test "$logs_served" = "$logs_impl"
done_testing
