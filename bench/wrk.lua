-- wrk script for make bench: one request, built once, from the environment
--   WRK_METHOD  GET (default) or POST
--   WRK_BODY    request body (sent with Content-Type WRK_CTYPE,
--               default application/json)
--   WRK_TOKEN   bearer token for the Authorization header
-- and, when wrk is done, one line "BENCH_JSON {...}" with requests/s,
-- p50/p90/p99 latency (microseconds) and the error counts, for
-- bench/report.py to read.

local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
local token = os.getenv("WRK_TOKEN")
local ctype = os.getenv("WRK_CTYPE") or "application/json"

local headers = {}
if token and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end
if body and body ~= "" then
  headers["Content-Type"] = ctype
else
  body = nil
end

local req = nil

request = function()
  if not req then
    req = wrk.format(method, nil, headers, body)
  end
  return req
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "seconds": %.3f, "rps": %.2f, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "non2xx": %d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.timeout,
    e.status))
end
