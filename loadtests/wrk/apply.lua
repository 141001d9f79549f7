-- POST /shinsei/v2/apply with pre-built signed packages (one JSON body per line of BENCH_BODIES),
-- records "status arrive_id" per response in BENCH_OUT.<thread> for the integrity check.
local token = os.getenv("BENCH_TOKEN")
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local counter = 0
local out = nil
local thread_no = 0
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  out = io.open(os.getenv("BENCH_OUT") .. "." .. thread_no, "w")
  counter = thread_no * 7
end

function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", "/shinsei/v2/apply",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  local id = string.match(body, '"arrive_id":%s*"(%d+)"') or "-"
  out:write(status .. " " .. id .. "\n")
  out:flush()
end
