-- drplan.health: HTTP health checks with retries.
--
--   local health = require("drplan.health")
--   local r, err = health.check("http://10.1.0.5:8080/health",
--                               { status = 200, body = "\"status\":%s*\"UP\"" })
--   if not r then drplan.fail(err) end
--
-- Options: status (a number or a list of acceptable statuses; default
-- any 2xx), body (a Lua pattern the body must match; plain = true to
-- match it literally), method (default GET), headers, request_body,
-- attempts (default 5), interval (first pause in seconds, default 2),
-- factor (default 2), max_interval (default 30), timeout (each request in
-- seconds, default 10).
--
-- Returns { status =, body =, headers =, attempts = } of the first healthy
-- answer, or nil and a message naming the URL without its query string and
-- the last reason, e.g.
--   health http://h/health: status 503 (expected 200) after 5 attempts
local util = require("drplan.util")

local M = {}

local function status_ok(want, got)
	if want == nil then
		return got >= 200 and got < 300
	elseif type(want) == "number" then
		return got == want
	end
	for _, s in ipairs(want) do
		if s == got then
			return true
		end
	end
	return false
end

local function want_text(want)
	if want == nil then
		return "2xx"
	elseif type(want) == "number" then
		return tostring(want)
	end
	local t = {}
	for i, s in ipairs(want) do
		t[i] = tostring(s)
	end
	return table.concat(t, " or ")
end

-- One attempt: the response, or nil and why it is not healthy.
function M.probe(url, opts)
	opts = opts or {}
	local r, err = drplan.http.request {
		url = url, method = opts.method, headers = opts.headers,
		body = opts.request_body, timeout = util.num(opts, "timeout", 10, 0.001, 300),
	}
	if not r then
		return nil, err
	end
	if not status_ok(opts.status, r.status) then
		return nil, string.format("status %d (expected %s)", r.status, want_text(opts.status))
	end
	if opts.body and not r.body:find(opts.body, 1, opts.plain) then
		return nil, string.format("status %d but the body does not match '%s'", r.status,
			opts.body)
	end
	return r
end

function M.check(url, opts)
	opts = opts or {}
	local attempts = util.num(opts, "attempts", 5, 1, 1000)
	local next_delay = util.backoff(util.num(opts, "interval", 2, 0, 3600),
		util.num(opts, "factor", 2, 1, 100), util.num(opts, "max_interval", 30, 0, 3600))
	local why
	for i = 1, attempts do
		local r
		r, why = M.probe(url, opts)
		if r then
			r.attempts = i
			return r
		end
		if i < attempts then
			drplan.sleep(next_delay())
		end
	end
	return nil, string.format("health %s: %s after %d attempt%s", util.redact_url(url), why,
		attempts, attempts == 1 and "" or "s")
end

return M
