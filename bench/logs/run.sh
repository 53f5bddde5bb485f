#!/bin/bash
# bench/logs: CloudWatch Logs on gantry. Puts BENCH_EVENTS (1,000,000) events through boto3
# PutLogEvents in batches of 10,000 (BENCH_WRITERS concurrent writers, one stream each) and prints
# the ingest rate end to end (from the first request to the moment the last event is readable with
# GetLogEvents: PutLogEvents answers only once the events are durable, and durable events are
# readable), then FilterLogEvents latency over all of them: a term matching 0.001 % of the events,
# a JSON selector over every event, a %regex% pattern, a narrow time range, and the whole group unfiltered
# (the latency of the complete paginated read, as `aws logs filter-log-events` does it).
# Settings: BENCH_EVENTS, BENCH_WRITERS (4), GANTRY_BIN (build/gantry).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
GANTRY_BIN=${GANTRY_BIN:-$ROOT/build/gantry}
EVENTS=${BENCH_EVENTS:-1000000}
WRITERS=${BENCH_WRITERS:-4}
die() { echo "bench/logs: $*" >&2; exit 1; }
python3 -c 'import boto3' 2>/dev/null || die "python3 cannot import boto3"
[ -x "$GANTRY_BIN" ] || die "$GANTRY_BIN is missing: run 'make' first"
TMP=$(mktemp -d /tmp/gantry-bench-logs.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
	rm -rf "$TMP"
}
trap cleanup EXIT
printf 'GKIABENCHLOGSAAAAAAA benchsecret/0123456789abcdefghijklmnopqrst 123456789012\n' >"$TMP/credentials"
mkdir -p "$TMP/data"
"$GANTRY_BIN" server --listen 127.0.0.1:0 --data "$TMP/data" --credentials "$TMP/credentials" \
	--ready-file "$TMP/ready" >"$TMP/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 200); do [ -s "$TMP/ready" ] && break; sleep 0.05; done
[ -s "$TMP/ready" ] || { cat "$TMP/server.log"; die "server did not start"; }
ENDPOINT=$(cat "$TMP/ready")

python3 - "$ENDPOINT" "$EVENTS" "$WRITERS" <<'EOF'
import sys, time, threading, boto3, botocore.config
ep, total, writers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=writers + 2, read_timeout=300)
def client():
    return boto3.client("logs", endpoint_url=ep, region_name="us-east-1", config=cfg,
                        aws_access_key_id="GKIABENCHLOGSAAAAAAA",
                        aws_secret_access_key="benchsecret/0123456789abcdefghijklmnopqrst")
c = client()
G = "/bench/logs"
c.create_log_group(logGroupName=G)
for w in range(writers):
    c.create_log_stream(logGroupName=G, logStreamName="writer-%d" % w)
BATCH = 10000
nbatches = total // BATCH
t0ms = int(time.time() * 1000) - 3600 * 1000  # an hour of history, one ms per event per writer
per = nbatches // writers
levels = ["info", "info", "info", "warn", "error"]
def batch(w, b):
    base = t0ms + b * BATCH
    evs = []
    for i in range(BATCH):
        n = (w * per + b) * BATCH + i
        if n % 100000 == 7:
            msg = "NEEDLE found item %d" % n
        else:
            msg = '{"level":"%s","n":%d,"latency":%d}' % (levels[n % 5], n, n % 1000)
        evs.append({"timestamp": base + i, "message": msg})
    return evs
# build the batches first so that the measurement is the server's, not Python's
work = {w: [batch(w, b) for b in range(per)] for w in range(writers)}
lat = []
def writer(w):
    cl = client()
    for evs in work[w]:
        s = time.perf_counter()
        r = cl.put_log_events(logGroupName=G, logStreamName="writer-%d" % w, logEvents=evs)
        lat.append(time.perf_counter() - s)
        assert "rejectedLogEventsInfo" not in r, r
start = time.perf_counter()
ts = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
[t.start() for t in ts]
[t.join() for t in ts]
# queryable: the last event of every stream is readable
for w in range(writers):
    r = c.get_log_events(logGroupName=G, logStreamName="writer-%d" % w, limit=1)
    assert r["events"], "the last events are not readable"
elapsed = time.perf_counter() - start
n = per * writers * BATCH
lat.sort()
print("PutLogEvents ingest: %d events in %d batches of %d, %d writers: %.2f s, %.0f events/s end to end to queryable"
      % (n, per * writers, BATCH, writers, elapsed, n / elapsed))
print("  PutLogEvents latency per 10,000-event batch: p50 %.0f ms, p99 %.0f ms" % (lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000))
def filt(desc, **kw):
    s = time.perf_counter()
    pages = found = 0
    longest = 0.0
    tok = None
    while True:
        if tok:
            kw["nextToken"] = tok
        cs = time.perf_counter()
        r = c.filter_log_events(logGroupName=G, **kw)
        longest = max(longest, time.perf_counter() - cs)
        pages += 1
        found += len(r["events"])
        tok = r.get("nextToken")
        if not tok:
            break
    e = time.perf_counter() - s
    print("FilterLogEvents %-42s %7d events found, %4d pages, %8.1f ms total, longest call %5.1f ms"
          % (desc, found, pages, e * 1000, longest * 1000))
filt("term 'NEEDLE' over %d events:" % n, filterPattern="NEEDLE")
filt("JSON { $.level = \"error\" && $.latency > 990 }:", filterPattern='{ $.level = "error" && $.latency > 990 }')
filt("regex %^NEEDLE\\D+\\d*7$%:", filterPattern=r"%^NEEDLE\D+\d*7$%")
filt("time range of 100 ms (sparse index):", startTime=t0ms + 100000, endTime=t0ms + 100100)
filt("no pattern, whole group:")
EOF
echo "data on disk: $(du -sh "$TMP/data/logs" | cut -f1)"
