-- Heed bench: POST one scenario's body with tokens spread over many members.
-- Environment: BENCH_TOKENS (file, one token a line), BENCH_BODY (file; __KEY__, __STEP__ and
-- __OP__ are replaced per request when present), or instead BENCH_BODIES (file, one body a
-- line, sent without a token: the peer's requests, one member each), BENCH_STEPS (comma
-- list), BENCH_KEY_PREFIX, BENCH_START (requests already sent with this token list, so a later
-- run continues).
-- Each thread walks its own stride of the token list, so threads never share a member at once;
-- for keyed bodies, each pass over the list moves on to the next step, and once every step
-- is done the passes reopen them in the same order (Complete, then Reopen, then Complete...).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then table.insert(out, line) end
  end
  return out
end

function init(args)
  headers = {}
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/graphql-response+json"
  prepared = {}
  local bodies = os.getenv("BENCH_BODIES")
  if bodies then
    tokens = lines(bodies)
    for i, one in ipairs(tokens) do prepared[i] = wrk.format("POST", "/graphql", headers, one) end
    keyed = false
    start, nthreads = 0, tonumber(os.getenv("BENCH_THREADS") or "1")
    return
  end
  tokens = lines(os.getenv("BENCH_TOKENS"))
  local f = assert(io.open(os.getenv("BENCH_BODY"), "r"))
  body = f:read("*a")
  f:close()
  keyed = body:find("__KEY__", 1, true) ~= nil
  steps = {}
  for s in string.gmatch(os.getenv("BENCH_STEPS") or "", "[^,]+") do table.insert(steps, s) end
  prefix = (os.getenv("BENCH_KEY_PREFIX") or "k") .. "-" .. tid .. "-"
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  start = tonumber(os.getenv("BENCH_START") or "0")
  if not keyed then
    for i, token in ipairs(tokens) do
      headers["Authorization"] = "Bearer " .. token
      prepared[i] = wrk.format("POST", "/graphql", headers, body)
    end
  end
end

function request()
  local position = start + tid + counter * nthreads
  counter = counter + 1
  local index = position % #tokens + 1
  if not keyed then return prepared[index] end
  local pass = math.floor(position / #tokens)
  local n = math.max(#steps, 1)
  local step = steps[pass % n + 1] or ""
  local operation = (math.floor(pass / n) % 2 == 0) and "Complete" or "Reopen"
  local text = body:gsub("__KEY__", prefix .. counter):gsub("__STEP__", step)
    :gsub("__OP__", operation)
  headers["Authorization"] = "Bearer " .. tokens[index]
  return wrk.format("POST", "/graphql", headers, text)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, '
      .. '"errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
