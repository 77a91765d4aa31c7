-- wrk script for scripts/bench-webhooks: POST /webhooks/telnyx with pre-signed, unique
-- `message.received` events. Each wrk thread reads its own file (BENCH_REQUESTS.<thread>,
-- written by sign.py presign: "<timestamp>\t<signature>\t<body>" a line), builds every
-- request before the load starts, and sends each exactly once. A thread that runs out of
-- events stops and reports `exhausted` (the run is then invalid: sign more events).
--
-- Environment: BENCH_REQUESTS (file prefix, required).
-- At the end it prints machine-readable lines "RESULT key value" (latencies in microseconds).

local prefix = os.getenv("BENCH_REQUESTS") or error("BENCH_REQUESTS is not set")

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state)
local reqs = {}
local i = 0
loaded = 0
sent = 0
recorded = 0
duplicate = 0
other_200 = 0
non_200 = 0
exhausted = 0
first_error = ""

function init(args)
  local path = prefix .. "." .. tid
  local f = io.open(path, "rb") or error("cannot open " .. path)
  for line in f:lines() do
    local ts, sig, body = line:match("^(%d+)\t([^\t]+)\t(.+)$")
    if not ts then error("malformed line in " .. path) end
    reqs[#reqs + 1] = wrk.format("POST", "/webhooks/telnyx", {
      ["Content-Type"] = "application/json",
      ["telnyx-timestamp"] = ts,
      ["telnyx-signature-ed25519"] = sig,
    }, body)
  end
  f:close()
  loaded = #reqs
end

function request()
  i = i + 1
  if i > loaded then
    -- never repeat an event: stop this thread instead
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    i = loaded
  end
  sent = i
  return reqs[i]
end

function response(status, headers, body)
  if status == 200 then
    if body:find('"recorded"', 1, true) then
      recorded = recorded + 1
    elseif body:find('"duplicate"', 1, true) then
      duplicate = duplicate + 1
    else
      other_200 = other_200 + 1
      if first_error == "" then first_error = "200 " .. body:sub(1, 300) end
    end
  else
    non_200 = non_200 + 1
    if first_error == "" then first_error = status .. " " .. (body or ""):sub(1, 300) end
  end
end

function done(summary, latency, requests)
  local t = { loaded = 0, sent = 0, recorded = 0, duplicate = 0, other_200 = 0, non_200 = 0, exhausted = 0 }
  local err = ""
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
    local e = thread:get("first_error") or ""
    if err == "" and e ~= "" then err = e end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT duration_s %.3f\n", secs))
  io.write(string.format("RESULT responses %d\n", summary.requests))
  io.write(string.format("RESULT loaded %d\n", t.loaded))
  io.write(string.format("RESULT sent %d\n", t.sent))
  io.write(string.format("RESULT recorded %d\n", t.recorded))
  io.write(string.format("RESULT duplicate %d\n", t.duplicate))
  io.write(string.format("RESULT other_200 %d\n", t.other_200))
  io.write(string.format("RESULT non_200 %d\n", t.non_200))
  io.write(string.format("RESULT exhausted_threads %d\n", t.exhausted))
  io.write(string.format("RESULT socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("RESULT rps %.1f\n", t.recorded / secs))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("RESULT p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("RESULT max_us %d\n", latency.max))
  io.write(string.format("RESULT mean_us %.0f\n", latency.mean))
  if err ~= "" then io.write("RESULT first_error " .. err:gsub("\n", " ") .. "\n") end
end
