-- health-check.lua: probe an HTTP health endpoint on every machine of the
-- group after failover. Placeholder until the hook API lands.
local args = drplan.args or {}
local url = args.url or "http://localhost/health"
local expect = tonumber(args.expect or 200)

drplan.log(string.format("probing %s, expecting HTTP %d", url, expect))
return true
