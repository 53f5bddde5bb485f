#!/bin/bash
# bench/registry: skopeo pushes and pulls the same images to gantry's registry and to Debian's
# docker-registry (Distribution 2.8), side by side on this machine in one run, and wrk measures
# manifest GETs per second on both. Images: Debian's static busybox (about 1 MB, tests/e2e/mkoci.py)
# and a multi-layer image of files Debian's packages installed (about 200 MB, mkbig.py). Each push
# goes to a fresh repository (no blob is there yet); each pull goes into an empty OCI layout.
# Prints the median of BENCH_RUNS runs (5) per case and the ratio gantry / Distribution (goal
# <= 1.0), and manifest GETs/s (goal >= 2,000). See docs/PERFORMANCE.md.
#
# Settings (environment): BENCH_RUNS (5), BENCH_BIG_DIRS the large image's layer directories
# ("/usr/lib/gcc /usr/lib/python3 /usr/share/locale"), BENCH_DURATION wrk seconds (10),
# BENCH_CONNECTIONS (32), GANTRY_BIN (build/gantry).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/gantry}
RUNS=${BENCH_RUNS:-5}
BIG_DIRS=${BENCH_BIG_DIRS:-/usr/lib/gcc /usr/lib/python3 /usr/share/locale}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-32}

die() { echo "bench/registry: $*" >&2; exit 1; }
for c in skopeo docker-registry wrk curl; do command -v $c >/dev/null || die "$c is not installed (make bench installs it)"; done
[ -x /bin/busybox ] || die "busybox-static is not installed"
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN is missing: run 'make' first (or 'make bench')"

TMP=$(mktemp -d /var/tmp/gantry-bench-registry.XXXXXX) # on disk, like both registries' data
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

KEY=GKIA$(python3 -c 'import secrets; print(secrets.token_hex(8).upper())')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
printf '%s %s 000000000000\n' "$KEY" "$SECRET" >"$TMP/credentials"
mkdir -p "$TMP/gantry-data" "$TMP/dist-data"
"$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$TMP/gantry-data" --credentials "$TMP/credentials" \
	--ready-file "$TMP/ready" >"$TMP/gantry.log" 2>&1 &
PIDS+=($!)
DIST_PORT=$(free_port)
cat >"$TMP/dist.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $TMP/dist-data}
  delete: {enabled: true}
http: {addr: "127.0.0.1:$DIST_PORT"}
YML
docker-registry serve "$TMP/dist.yml" >"$TMP/dist.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
	[ -s "$TMP/ready" ] && curl -s -o /dev/null "http://127.0.0.1:$DIST_PORT/v2/" && break
	sleep 0.1
done
[ -s "$TMP/ready" ] || die "gantry did not start: $(cat "$TMP/gantry.log")"
curl -s -o /dev/null "http://127.0.0.1:$DIST_PORT/v2/" || die "docker-registry did not start: $(cat "$TMP/dist.log")"
ENDPOINT=$(cat "$TMP/ready")
GANTRY=${ENDPOINT#http://}
DIST=127.0.0.1:$DIST_PORT
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
awsg() { aws --endpoint-url "$ENDPOINT" "$@"; }
PW=$(awsg ecr get-login-password)

echo "bench/registry: making the images"
python3 "$ROOT/tests/e2e/mkoci.py" "$TMP/small" v1 >/dev/null
# shellcheck disable=SC2086
BIG_BYTES=$(python3 "$HERE/mkbig.py" "$TMP/big" v1 $BIG_DIRS)
SMALL_BYTES=$(du -cb "$TMP/small/blobs/sha256" | tail -1 | cut -f1)

# skopeo remembers where it pushed each blob (its blob info cache) and would mount a layer from an
# earlier run's repository instead of uploading it: each copy gets an empty cache of its own, in a
# private mount namespace (the machine's cache is untouched).
CACHE=/var/lib/containers/cache
mkdir -p "$CACHE"
sk() {
	unshare -m sh -c 'mount -t tmpfs tmpfs "$0" && exec skopeo --override-arch amd64 --override-os linux copy --quiet "$@"' \
		"$CACHE" "$@"
}
# now: seconds since the epoch with nanoseconds.
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timed CMD...: prints the seconds CMD took. Dirty pages are written out first, so that neither
# registry pays for the other's writeback (gantry fsyncs each blob before acknowledging it,
# Distribution does not).
timed() { sync; local t0; t0=$(now); "$@" >/dev/null; python3 -c "print(round($(now) - $t0, 3))"; }

push_gantry() { # image run
	awsg ecr create-repository --repository-name "bench/$1-$2" >/dev/null
	timed sk --dest-tls-verify=false --dest-creds "AWS:$PW" "oci:$TMP/$1:v1" "docker://$GANTRY/bench/$1-$2:v1"
}
push_dist() { timed sk --dest-tls-verify=false "oci:$TMP/$1:v1" "docker://$DIST/bench/$1-$2:v1"; }
pull_gantry() {
	rm -rf "$TMP/pull"
	timed sk --src-tls-verify=false --src-creds "AWS:$PW" "docker://$GANTRY/bench/$1-$2:v1" "oci:$TMP/pull:v1"
}
pull_dist() { rm -rf "$TMP/pull"; timed sk --src-tls-verify=false "docker://$DIST/bench/$1-$2:v1" "oci:$TMP/pull:v1"; }

declare -A RESULT
for img in small big; do
	for op in push pull; do
		for reg in gantry dist; do : >"$TMP/t-$img-$op-$reg"; done
		for run in $(seq 1 "$RUNS"); do
			# Alternate which registry goes first, so neither always meets a cold page cache.
			if [ $((run % 2)) -eq 1 ]; then order="gantry dist"; else order="dist gantry"; fi
			for reg in $order; do "${op}_$reg" "$img" "$run" >>"$TMP/t-$img-$op-$reg"; done
		done
		for reg in gantry dist; do RESULT[$img-$op-$reg]=$(median <"$TMP/t-$img-$op-$reg"); done
	done
done
rm -rf "$TMP/pull"

# Manifest GETs/s: the small image's manifest by tag, with the Accept header clients send.
ACCEPT="application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
AUTH=$(printf 'AWS:%s' "$PW" | base64 -w0)
rate() { # url [auth header]
	local args=(-t1 -c"$CONNS" -d"${DURATION}s" -H "Accept: $ACCEPT")
	[ $# -gt 1 ] && args+=(-H "$2")
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $ACCEPT" ${2:+-H "$2"} "$1")
	[ "$code" = 200 ] || die "GET $1 answers $code"
	wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print int($2)} /Non-2xx/ {print "errors " $NF > "/dev/stderr"}'
}
GETS_GANTRY=$(rate "$ENDPOINT/v2/bench/small-1/manifests/v1" "Authorization: Basic $AUTH")
GETS_DIST=$(rate "http://$DIST/v2/bench/small-1/manifests/v1")

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
printf '\nbench/registry: skopeo copy, median of %d runs, seconds (small %s bytes, big %s bytes in %d layers)\n' \
	"$RUNS" "$SMALL_BYTES" "$BIG_BYTES" "$(echo $BIG_DIRS | wc -w)"
printf '%-12s %10s %14s %20s\n' case gantry distribution "ratio (goal <= 1.0)"
for img in small big; do
	for op in push pull; do
		g=${RESULT[$img-$op-gantry]} d=${RESULT[$img-$op-dist]}
		printf '%-12s %10s %14s %20s\n' "$img $op" "$g" "$d" "$(ratio "$g" "$d")"
	done
done
printf '\nmanifest GETs/s (wrk, %d connections, %d s): gantry %s, distribution %s, ratio %s (goal: gantry >= 2000)\n' \
	"$CONNS" "$DURATION" "$GETS_GANTRY" "$GETS_DIST" "$(ratio "$GETS_GANTRY" "$GETS_DIST")"
