-- wrk script for bench/api: replays pre-signed requests written by reqs.py.
-- Usage: wrk -tT ... -s load.lua URL -- FILE START T [EXTRA...]
--   FILE    a request file; its requests are split into T contiguous blocks, one per wrk thread,
--           and each thread sends its block in order from START (relative to the block), wrapping
--           round at its end;
--   EXTRA   more request files (of one request each): then every thread sends, in turn, the next
--           request of its block and then each EXTRA request, which is how the mix interleaves
--           fresh CreateCluster requests with the other three operations in equal shares.
-- done() prints one line, RESULT key=value ..., for run.sh: counts, latency, `next` (the START
-- that continues where this run stopped, so the next run sends fresh requests) and `wrapped` (how
-- often a thread ran past the end of its block; for CreateCluster that means repeated names,
-- which are idempotent no-ops, so run.sh refuses such a run).

local threads = {}

-- BENCH_CHECK=runtask (environment): check every answer's body too, counting in `invalid` each one
-- that places no task (a 200 with only `failures`). Only then is response() defined: wrk parses
-- bodies only for a script that has it.
if os.getenv("BENCH_CHECK") == "runtask" then
	function response(status, headers, body)
		if status ~= 200 or not (body:find('"tasks":[{', 1, true) or body:find('"tasks": [{', 1, true))
			or body:find('"failures":[{', 1, true) or body:find('"failures": [{', 1, true) then
			invalid = invalid + 1
		end
	end
end

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

local function read_requests(path)
	local f = assert(io.open(path, "rb"))
	local n = tonumber(f:read("*l"))
	local list = {}
	for i = 1, n do
		local len = tonumber(f:read("*l"))
		list[i] = f:read(len)
	end
	f:close()
	return list
end

function init(args)
	local all = read_requests(args[1])
	local nthreads = tonumber(args[3]) or 1
	local per = math.floor(#all / nthreads)
	local first = tid * per
	if per < 1 then
		per, first = #all, 0
	end
	reqs = {}
	for i = 1, per do
		reqs[i] = all[first + i]
	end
	all = nil
	extra = {}
	for i = 4, #args do
		extra[#extra + 1] = read_requests(args[i])[1]
	end
	pos = (tonumber(args[2]) or 0) % per
	turn = 0 -- 0: next from the block; k > 0: extra[k]
	wrapped = 0
	invalid = 0
end

function request()
	if turn > 0 then
		local r = extra[turn]
		turn = (turn + 1) % (#extra + 1)
		return r
	end
	if #extra > 0 then
		turn = 1
	end
	pos = pos + 1
	if pos > #reqs then
		pos = 1
		if #reqs > 1 then
			wrapped = wrapped + 1
		end
	end
	return reqs[pos]
end

function done(summary, latency, requests)
	local next_start, wraps, bad = 0, 0, 0
	for _, t in ipairs(threads) do
		local p = t:get("pos")
		if p > next_start then
			next_start = p
		end
		wraps = wraps + t:get("wrapped")
		bad = bad + t:get("invalid")
	end
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
		"p50_us=%d p99_us=%d next=%d wrapped=%d invalid=%d\n",
		summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(99), next_start, wraps, bad))
end
