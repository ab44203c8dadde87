-- wrk script for bench/pages.py. The benchmark prepends a `config` table:
--   config.method, config.paths (requests rotate through them), config.headers,
--   config.body (or nil), config.expect_status, config.expect_location (a Lua pattern
--   the Location header must match, or nil).
-- Every response whose status (or redirect target) is not the expected one is counted;
-- done() prints the total so the benchmark can fail a run that measured errors.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   unexpected = 0
   counter = 0
   prepared = {}
   for i, path in ipairs(config.paths) do
      prepared[i] = wrk.format(config.method, path, config.headers, config.body)
   end
end

function request()
   counter = counter + 1
   return prepared[(counter % #prepared) + 1]
end

function response(status, headers, body)
   if status ~= config.expect_status then
      unexpected = unexpected + 1
   elseif config.expect_location then
      local location = headers["Location"] or headers["location"] or ""
      if not string.find(location, config.expect_location) then
         unexpected = unexpected + 1
      end
   end
end

function done(summary, latency, requests)
   local total = 0
   for _, thread in ipairs(threads) do
      total = total + thread:get("unexpected")
   end
   io.write(string.format("BENCH-UNEXPECTED %d\n", total))
end
