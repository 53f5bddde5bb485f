#!/bin/bash
# docs/API.md must say "implemented" for exactly the operations the server registers, so that the
# coverage table never claims an operation that answers UnknownOperationException, or hides one.
source "$(dirname "$0")/lib.sh"
served=$(grep -ohE '\{ ?"[A-Za-z]+", (ecs__|ecr_)[a-z_]+ ?\}' "$ROOT"/src/ecs/*.c "$ROOT"/src/registry/ecr.c |
	sed -E 's/\{ ?"([A-Za-z]+)".*/\1/' | sort -u)
documented=$(grep -E '^\| [A-Za-z]+ \| implemented \|' "$ROOT/docs/API.md" | awk '{print $2}' | sort -u)
check "the server registers operations" test -n "$served"
missing=$(comm -23 <(echo "$served") <(echo "$documented"))
extra=$(comm -13 <(echo "$served") <(echo "$documented"))
[ -n "$missing" ] && echo "# served but not marked implemented: $missing"
[ -n "$extra" ] && echo "# marked implemented but not served: $extra"
check "every served operation is marked implemented in docs/API.md" test -z "$missing"
check "every operation marked implemented is served" test -z "$extra"
done_testing
