-- drplan.wait: wait until a TCP port accepts connections.
--
--   local wait = require("drplan.wait")
--   local r, err = wait.tcp("10.1.0.4", 1433, { timeout = 300 })
--   if not r then drplan.fail(err) end
--   drplan.log("SQL answered after %d attempts", r.attempts)
--
-- Options (seconds): timeout (total budget, default 300), interval (first
-- pause between attempts, default 1), factor (default 2), max_interval
-- (default 30), attempt_timeout (each connect, default 5), attempts
-- (give up after this many, default unlimited).
--
-- The budget is counted from the pauses and the attempts themselves (a
-- failed attempt counts as its full attempt_timeout when it timed out), so
-- it holds on the runner's virtual clock as well.
local util = require("drplan.util")

local M = {}

function M.tcp(host, port, opts)
	opts = opts or {}
	local timeout = util.num(opts, "timeout", 300, 0, 86400)
	local attempt_timeout = util.num(opts, "attempt_timeout", 5, 0.001, 300)
	local max_attempts = util.num(opts, "attempts", math.huge, 1, math.huge)
	local next_delay = util.backoff(util.num(opts, "interval", 1, 0, 3600),
		util.num(opts, "factor", 2, 1, 100), util.num(opts, "max_interval", 30, 0, 3600))
	local spent, attempts, last = 0, 0, nil

	while true do
		local t = math.min(attempt_timeout, math.max(timeout - spent, 0.001))
		attempts = attempts + 1
		local r, err = drplan.tcp.check(host, port, t)
		if r then
			return { ok = true, ms = r.ms, attempts = attempts }
		end
		last = err
		spent = spent + (err:find("timed out", 1, true) and t or 0)
		if attempts >= max_attempts then
			break
		end
		local d = next_delay()
		if spent + d >= timeout then
			break
		end
		drplan.sleep(d)
		spent = spent + d
	end
	return nil, string.format("%s:%d not reachable after %d attempt%s: %s", host, port,
		attempts, attempts == 1 and "" or "s", last)
end

return M
