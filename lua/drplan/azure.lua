-- drplan.azure: a few Azure Resource Manager calls for DR runbooks.
--
--   local azure = require("drplan.azure")
--   local arm = azure.client { subscription = "0000-...", token_env = "AZURE_TOKEN" }
--   assert(arm:dns_set_a { resource_group = "rg-dns", zone = "contoso.com",
--                          name = "erp", ips = { "10.1.0.5" }, ttl = 60 })
--   assert(arm:nsg_associate_subnet { resource_group = "rg-net", vnet = "vnet-dr",
--                                     subnet = "app", nsg_id = "/subscriptions/.../nsg-app" })
--
-- The bearer token is read with drplan.env() from the variable the plan
-- names (token_env, default AZURE_ACCESS_TOKEN; list it in the action's
-- env:), so it is masked in logs; it only travels in the Authorization
-- header, which is never logged. endpoint (default
-- https://management.azure.com) can point at a test server.
--
-- API versions: DNS record sets 2018-05-01 (the stable Microsoft.Network
-- dnsZones version); subnets and network interfaces 2023-09-01. Override
-- with dns_api_version / network_api_version.
--
-- Every call returns the decoded response body, or nil and a message such
-- as "azure PUT .../dnsZones/contoso.com/A/erp: status 403: AuthorizationFailed:
-- The client ... does not have authorization".
local util = require("drplan.util")

local M = {}
local Client = {}
Client.__index = Client

local function need(t, key, what)
	local v = t[key]
	if type(v) ~= "string" or v == "" then
		error(string.format("%s: %s must be a non-empty string", what, key), 0)
	end
	return v
end

-- Path segments: names ARM allows, nothing that could change the path.
local function seg(t, key, what)
	local v = need(t, key, what)
	if v:find("[/?#%%%s]") then
		error(string.format("%s: %s '%s' must not contain / ? # %% or spaces", what, key, v), 0)
	end
	return v
end

function M.client(opts)
	opts = opts or {}
	local c = setmetatable({}, Client)
	c.subscription = seg(opts, "subscription", "azure.client")
	c.token_env = opts.token_env or "AZURE_ACCESS_TOKEN"
	c.endpoint = (opts.endpoint or "https://management.azure.com"):gsub("/+$", "")
	c.dns_api_version = opts.dns_api_version or "2018-05-01"
	c.network_api_version = opts.network_api_version or "2023-09-01"
	c.timeout = util.num(opts, "timeout", 60, 0.001, 300)
	return c
end

function Client:path(rg, rest)
	return string.format("/subscriptions/%s/resourceGroups/%s/providers/%s", self.subscription,
		rg, rest)
end

-- One ARM request; body is a Lua table (encoded) or nil.
function Client:request(method, path, api_version, body)
	local token = drplan.env(self.token_env)
	if not token or token == "" then
		return nil, "azure: environment variable " .. self.token_env .. " is not set"
	end
	local headers = { Authorization = "Bearer " .. token, Accept = "application/json" }
	local data
	if body ~= nil then
		data = drplan.json.encode(body)
		headers["Content-Type"] = "application/json"
	end
	local url = self.endpoint .. path .. "?api-version=" .. api_version
	local r, err = drplan.http.request {
		url = url, method = method, headers = headers, body = data, timeout = self.timeout,
	}
	local what = "azure " .. method .. " " .. path
	if not r then
		return nil, what .. ": " .. (err:match(": ([^:]*)$") or err)
	end
	local ok, decoded = pcall(drplan.json.decode, r.body ~= "" and r.body or "{}")
	if r.status < 200 or r.status >= 300 then
		local e = ok and type(decoded) == "table" and type(decoded.error) == "table" and decoded.error
		if e then
			return nil, string.format("%s: status %d: %s: %s", what, r.status,
				tostring(e.code), tostring(e.message))
		end
		return nil, string.format("%s: status %d", what, r.status)
	end
	if not ok then
		return nil, what .. ": response is not JSON"
	end
	return decoded, r.status
end

-- The path of an A record set.
function Client:dns_a_path(o)
	return self:path(seg(o, "resource_group", "dns_set_a"),
		string.format("Microsoft.Network/dnsZones/%s/A/%s", seg(o, "zone", "dns_set_a"),
			seg(o, "name", "dns_set_a")))
end

-- The PUT body of an A record set.
function M.dns_a_body(ips, ttl)
	local recs = {}
	for i, ip in ipairs(ips) do
		if type(ip) ~= "string" or not ip:match("^%d+%.%d+%.%d+%.%d+$") then
			error("dns_set_a: ips must be IPv4 addresses, got '" .. tostring(ip) .. "'", 0)
		end
		recs[i] = { ipv4Address = ip }
	end
	if #recs == 0 then
		error("dns_set_a: ips must list at least one address", 0)
	end
	return { properties = { TTL = ttl, ARecords = recs } }
end

-- Create or replace the A record set zone/name with ips.
function Client:dns_set_a(o)
	local ips = o.ips or (o.ip and { o.ip }) or {}
	local body = M.dns_a_body(ips, util.num(o, "ttl", 300, 1, 2147483647))
	return self:request("PUT", self:dns_a_path(o), self.dns_api_version, body)
end

-- Drop empty tables: drplan.json turns an empty array into {}, which ARM
-- would reject in a PUT; an absent list means the same as an empty one.
local function prune(t)
	for k, v in pairs(t) do
		if type(v) == "table" then
			prune(v)
			if next(v) == nil then
				t[k] = nil
			end
		end
	end
	return t
end

-- GET a resource, set properties.networkSecurityGroup, PUT it back.
function Client:set_nsg(path, nsg_id)
	local res, err = self:request("GET", path, self.network_api_version)
	if not res then
		return nil, err
	end
	res = prune(res)
	res.properties = res.properties or {}
	if nsg_id then
		res.properties.networkSecurityGroup = { id = nsg_id }
	else
		res.properties.networkSecurityGroup = nil
	end
	res.properties.provisioningState = nil
	return self:request("PUT", path, self.network_api_version, res)
end

function Client:nsg_associate_subnet(o)
	local what = "nsg_associate_subnet"
	local path = self:path(seg(o, "resource_group", what), string.format(
		"Microsoft.Network/virtualNetworks/%s/subnets/%s", seg(o, "vnet", what),
		seg(o, "subnet", what)))
	return self:set_nsg(path, o.nsg_id ~= false and need(o, "nsg_id", what) or nil)
end

function Client:nsg_associate_nic(o)
	local what = "nsg_associate_nic"
	local path = self:path(seg(o, "resource_group", what), string.format(
		"Microsoft.Network/networkInterfaces/%s", seg(o, "nic", what)))
	return self:set_nsg(path, o.nsg_id ~= false and need(o, "nsg_id", what) or nil)
end

return M
