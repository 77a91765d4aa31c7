-- wrk script for scripts/bench-ingest: POST /api/communications/log, one unique
-- provider_message_id per request (<run>-<thread>-<counter>), inbound SMS from ~1,000
-- distinct Chicago numbers (+1312641NNNN), short realistic texts.
--
-- Environment: BENCH_API_KEY (required), BENCH_RUN (pmid prefix), BENCH_PHONES (default 1000).
-- At the end it prints machine-readable lines "RESULT key value" (latencies in microseconds).

local api_key = os.getenv("BENCH_API_KEY") or error("BENCH_API_KEY is not set")
local run = os.getenv("BENCH_RUN") or "wrk"
local phones = tonumber(os.getenv("BENCH_PHONES") or "1000")

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local texts = {
  "Hi, I think my roof is leaking again after last night's storm. Can someone come take a look this week?",
  "Yes, Thursday afternoon works for the inspection. Thanks!",
  "How much would a full tear-off and replacement cost for a 2,000 sq ft ranch house?",
  "We noticed some missing shingles on the north side. Is that covered by the warranty?",
  "Can you send me the quote by email? My husband wants to see it too.",
  "Sorry, I missed your call. I'm free after 5pm today.",
  "The gutters are overflowing and there's water stain on the ceiling in the bedroom.",
  "Thanks for coming out yesterday, the crew was great.",
  "Not interested anymore, we went with another company.",
  "Is the 10% discount still available if we sign this month?",
  "Please call me back, it's urgent - water is coming through the kitchen light.",
  "What brands of shingles do you install? We like the darker colors.",
  "Ok sounds good",
  "Do you handle insurance claims for hail damage? Our adjuster is coming Monday.",
  "Can we reschedule to next Tuesday morning?",
  "Roof is about 22 years old, never replaced. Getting a few quotes.",
}

-- per-thread state (each wrk thread has its own Lua state)
local counter = 0
sent = 0
created = 0
other_2xx = 0
non_2xx = 0
first_error = ""

local headers = {
  ["Authorization"] = "Bearer " .. api_key,
  ["Content-Type"] = "application/json",
}

local function json_escape(s)
  return (s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end))
end

function init(args)
  math.randomseed(os.time() + tid * 7919)
end

function request()
  counter = counter + 1
  sent = sent + 1
  local phone = string.format("+1312641%04d", math.random(0, phones - 1))
  local text = texts[math.random(1, #texts)]
  local body = '{"type":"sms","direction":"inbound","from_address":"' .. phone ..
    '","to_address":"+13125550100","content":"' .. json_escape(text) ..
    '","provider":"twilio","provider_message_id":"' .. run .. "-" .. tid .. "-" .. counter .. '"}'
  return wrk.format("POST", "/api/communications/log", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status >= 200 and status < 300 then
    other_2xx = other_2xx + 1
  else
    non_2xx = non_2xx + 1
    if first_error == "" then
      first_error = status .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local t = { sent = 0, created = 0, other_2xx = 0, non_2xx = 0 }
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
  io.write(string.format("RESULT sent %d\n", t.sent))
  io.write(string.format("RESULT created %d\n", t.created))
  io.write(string.format("RESULT other_2xx %d\n", t.other_2xx))
  io.write(string.format("RESULT non_2xx %d\n", t.non_2xx))
  io.write(string.format("RESULT socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("RESULT rps %.1f\n", t.created / secs))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("RESULT p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("RESULT max_us %d\n", latency.max))
  io.write(string.format("RESULT mean_us %.0f\n", latency.mean))
  if err ~= "" then io.write("RESULT first_error " .. err:gsub("\n", " ") .. "\n") end
end
