-- health-check.lua: probe the application's HTTP health endpoint.
--
--   post:
--     - lua: lua/hooks/health-check.lua
--       args: { url: "http://{ip}:8080/health", expect: 200, body: "UP" }
--
-- args: url (required; "{ip}" is replaced by each machine's target IP, and
-- then every machine of the context is probed; without it the URL is probed
-- once), expect (status, default any 2xx), body (a plain substring the body
-- must contain), attempts (default 10), interval (default 3 s), timeout
-- (each request, default 10 s).
local health = require("drplan.health")

-- On the simulator the recovered machines exist only in the model: there
-- is nothing to connect to, so say so and pass.
if drplan.context and drplan.context.provider == "sim" then
	drplan.log("provider sim: no real machine to probe; skipping the health endpoint check")
	drplan.output("skipped", "simulator")
	return
end

local args = drplan.args or {}
local url = args.url
if type(url) ~= "string" then
	drplan.fail("args.url is required")
end
local opts = {
	status = tonumber(args.expect), body = args.body, plain = true,
	attempts = tonumber(args.attempts) or 10, interval = tonumber(args.interval) or 3,
	max_interval = 15, timeout = tonumber(args.timeout) or 10,
}

local targets = {}
if url:find("{ip}", 1, true) then
	for _, m in ipairs((drplan.context and drplan.context.machines) or {}) do
		local t = m.target
		local ip = (type(t) == "table" and t.ip) or m.target_ip or m.ip
		if ip then
			targets[#targets + 1] = { name = m.name, url = url:gsub("{ip}", ip) }
		end
	end
	if #targets == 0 then
		drplan.fail("args.url has {ip} but no machine in the context has a target IP")
	end
else
	targets[1] = { name = "app", url = url }
end

for _, t in ipairs(targets) do
	local r, err = health.check(t.url, opts)
	if not r then
		drplan.fail(err)
	end
	drplan.log("%s healthy: status %d after %d attempt(s)", tostring(t.name), r.status,
		r.attempts)
end
drplan.output("healthy", #targets)
