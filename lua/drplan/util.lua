-- drplan.util: small helpers shared by the drplan.* modules.
local M = {}

-- A URL as it may be shown in logs and errors: no query string or
-- fragment (SAS tokens, api keys live there).
function M.redact_url(url)
	return (tostring(url):gsub("[?#].*$", ""))
end

-- opts.key as a number within [lo, hi], or dflt when absent.
function M.num(opts, key, dflt, lo, hi)
	local v = opts[key]
	if v == nil then
		return dflt
	end
	if type(v) ~= "number" or v ~= v or v < lo or v > hi then
		error(string.format("%s must be a number in [%s, %s]", key, lo, hi), 3)
	end
	return v
end

-- The delays of a backoff: first, first*factor, ... capped at max.
function M.backoff(first, factor, max)
	local d = first
	return function()
		local cur = d
		d = math.min(d * factor, max)
		return cur
	end
end

return M
