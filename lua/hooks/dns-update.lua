-- dns-update.lua: point an Azure DNS A record at the failed-over machine.
--
--   post:
--     - lua: lua/hooks/dns-update.lua
--       env: [AZURE_ACCESS_TOKEN]
--       args: { subscription: "...", resource_group: rg-dns, zone: contoso.com,
--               name: erp, ttl: 60 }
--
-- The address is args.ip, or the target IP of the first machine in the
-- context (of args.machine when given). args.endpoint overrides the ARM
-- endpoint (tests); args.token_env the variable with the bearer token.
local azure = require("drplan.azure")

local args = drplan.args or {}
local ip = args.ip
if not ip then
	for _, m in ipairs((drplan.context and drplan.context.machines) or {}) do
		if not args.machine or m.name == args.machine then
			local t = m.target
			ip = (type(t) == "table" and t.ip) or m.target_ip or m.ip
			break
		end
	end
end
if not ip then
	drplan.fail("no IP address: set args.ip or run in a context with machines")
end

local arm = azure.client { subscription = args.subscription, token_env = args.token_env,
	endpoint = args.endpoint }
local res, err = arm:dns_set_a { resource_group = args.resource_group, zone = args.zone,
	name = args.name, ips = { ip }, ttl = tonumber(args.ttl) or 60 }
if not res then
	drplan.fail(err)
end
drplan.log("DNS %s.%s -> %s", args.name, args.zone, ip)
drplan.output("dns", { name = args.name .. "." .. args.zone, ip = ip })
