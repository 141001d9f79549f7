-- GET /shinsei/v2/apply/{arrive_id} with a bearer token. Optional pacing: PACE_MS per connection
-- between requests (wrk's delay()), to hold a rate below the maximum.
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH")
local pace = tonumber(os.getenv("PACE_MS") or "0")

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token

function request()
  return wrk.format("GET", path)
end

if pace > 0 then
  function delay()
    return pace
  end
end
