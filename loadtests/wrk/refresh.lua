-- POST /auth/token grant_type=refresh_token: each request uses up one pre-issued refresh token
-- (rotation), taken in turn from BENCH_TOKENS (one per line, split between wrk threads).
local basic = os.getenv("BENCH_BASIC")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local index = 0
local step = 1
local out = nil
local thread_no = 0
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  index = thread_no
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  out = io.open(os.getenv("BENCH_OUT") .. "." .. thread_no, "w")
end

function request()
  local t = tokens[(index % #tokens) + 1]
  index = index + step
  return wrk.format("POST", "/auth/token",
    {["Authorization"] = "Basic " .. basic, ["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&refresh_token=" .. t)
end

function response(status, headers, body)
  out:write(status .. "\n")
  out:flush()
end
