#!/bin/bash
# Fails when a C file differs from what clang-format makes of it, and names the files.
set -u
cd "$(dirname "$0")/.."
bad=0
for f in src/*/*.[ch] tests/*/*.[ch]; do
	[ -e "$f" ] || continue
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "format: $f differs from clang-format (run: make format)"
		bad=1
	fi
done
exit $bad
