-- wrk script for bench/api: replays pre-signed requests from a file written by reqs.py.
-- Usage: wrk ... -s load.lua URL -- FILE START
-- The file's requests are split into one contiguous block per wrk thread; each thread sends its
-- block in order from START (relative to the block), wrapping round at its end. done() prints one
-- machine-readable line: RESULT key=value ..., including `next` (the START that continues where
-- this run stopped, so a later run sends fresh requests) and `wrapped` (how often a thread ran
-- past the end of its block: for CreateCluster that means repeats, which are idempotent no-ops).

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

function init(args)
	local f = assert(io.open(args[1], "rb"))
	local n = tonumber(f:read("*l"))
	-- A thread's Lua state knows only its own tid; the thread count (wrk's -t) is the third argument.
	local nthreads = tonumber(args[3]) or 1
	local per = math.floor(n / nthreads)
	if per < 1 then per = n end
	local first = (tid % nthreads) * per
	if per == n then first = 0 end
	reqs = {}
	local count = 0
	for i = 0, n - 1 do
		local len = tonumber(f:read("*l"))
		local r = f:read(len)
		if i >= first and i < first + per then
			count = count + 1
			reqs[count] = r
		end
	end
	f:close()
	nreqs = count
	pos = (tonumber(args[2]) or 0) % nreqs
	sent = 0
	wrapped = 0
end

function request()
	pos = pos + 1
	if pos > nreqs then
		pos = 1
		wrapped = wrapped + 1
	end
	sent = sent + 1
	return reqs[pos]
end

function done(summary, latency, requests)
	local next_start, wraps = 0, 0
	for _, t in ipairs(threads) do
		local p = t:get("pos")
		if p > next_start then next_start = p end
		wraps = wraps + t:get("wrapped")
	end
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
		"p50_us=%d p99_us=%d next=%d wrapped=%d\n",
		summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(99), next_start, wraps))
end
