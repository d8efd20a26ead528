-- check-sql.lua: after the data group failed over, wait until SQL Server
-- accepts TCP connections on every machine's target IP.
--
--   post:
--     - lua: lua/hooks/check-sql.lua
--       timeout: 5m
--       args: { port: 1433, wait: 240 }
--
-- The machines come from drplan.context.machines; each one's address is
-- its target IP (target.ip, or target_ip), the source IP as a fallback on
-- failback. args: port (default 1433), wait (seconds per machine,
-- default 240), interval (default 2).
local wait = require("drplan.wait")

-- On the simulator the recovered machines exist only in the model: there
-- is nothing to connect to, so say so and pass.
if drplan.context and drplan.context.provider == "sim" then
	drplan.log("provider sim: no real machine to probe; skipping the SQL Server check")
	drplan.output("skipped", "simulator")
	return
end

local args = drplan.args or {}
local port = tonumber(args.port) or 1433
local machines = (drplan.context and drplan.context.machines) or {}

local function address(m)
	local t = m.target
	return (type(t) == "table" and t.ip) or m.target_ip or m.ip
		or (type(m.source) == "table" and m.source.ip)
end

if #machines == 0 then
	drplan.fail("no machines in the context")
end
local results = {}
for _, m in ipairs(machines) do
	local ip = address(m)
	if not ip then
		drplan.fail(string.format("machine %s has no target IP", tostring(m.name)))
	end
	local r, err = wait.tcp(ip, port, { timeout = tonumber(args.wait) or 240,
		interval = tonumber(args.interval) or 2, max_interval = 15 })
	if not r then
		drplan.fail(string.format("SQL Server on %s: %s", tostring(m.name), err))
	end
	drplan.log("SQL Server on %s (%s:%d) answered in %d ms after %d attempt(s)",
		tostring(m.name), ip, port, r.ms, r.attempts)
	results[#results + 1] = { machine = m.name, ip = ip, ms = r.ms }
end
drplan.output("sql", results)
