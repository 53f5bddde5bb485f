#!/bin/bash
# Installs the Debian packages gantry needs. Usage: scripts/deps.sh build|test|bench
# Only what is missing is installed, so a second run is quick and offline-safe.
set -euo pipefail
BUILD_PKGS="build-essential pkg-config libuv1-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libarchive-dev zlib1g-dev crun conmon tini containernetworking-plugins iptables busybox-static"
TEST_PKGS="$BUILD_PKGS libcmocka-dev clang libclang-rt-14-dev clang-format awscli python3-boto3 sqlite3 curl skopeo docker-registry podman"
BENCH_PKGS="$TEST_PKGS wrk docker.io linux-perf"
case "${1:-build}" in
build) want=$BUILD_PKGS ;;
test) want=$TEST_PKGS ;;
bench) want=$BENCH_PKGS ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac
missing=()
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "gantry: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "gantry: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
