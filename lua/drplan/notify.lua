-- drplan.notify: post a message to a chat webhook.
--
--   local notify = require("drplan.notify")
--   local ok, err = notify.send("ERP failover: data group is up", { url_env = "TEAMS_WEBHOOK" })
--
-- The body is {"text": "..."}: Slack incoming webhooks and Microsoft Teams
-- incoming webhooks (Office 365 connectors) both accept it as a plain
-- message. The webhook URL is a secret (the path is the credential): it is
-- read with drplan.env() from the variable the plan names (opts.url_env,
-- default DRPLAN_WEBHOOK_URL; the action must list it in env:), so it is
-- masked in logs, and it is never put into an error message.
--
-- Options: url_env, url (given directly, e.g. in tests), title (prefixed
-- in bold), timeout (seconds, default 10), attempts (default 3).
local util = require("drplan.util")

local M = {}

-- The JSON body for text (and an optional title).
function M.body(text, title)
	if type(text) ~= "string" then
		error("notify: text must be a string", 2)
	end
	if title then
		text = "**" .. title .. "**\n" .. text
	end
	return drplan.json.encode({ text = text })
end

function M.send(text, opts)
	opts = opts or {}
	local url = opts.url
	if not url then
		local name = opts.url_env or "DRPLAN_WEBHOOK_URL"
		url = drplan.env(name)
		if not url or url == "" then
			return nil, "notify: environment variable " .. name .. " is not set"
		end
	end
	local body = M.body(text, opts.title)
	local attempts = util.num(opts, "attempts", 3, 1, 10)
	local why
	for i = 1, attempts do
		local r, err = drplan.http.request {
			url = url, method = "POST", body = body,
			headers = { ["Content-Type"] = "application/json" },
			timeout = util.num(opts, "timeout", 10, 0.001, 300),
		}
		if r and r.status >= 200 and r.status < 300 then
			return true
		end
		-- The error text of a failed request names the URL; keep it out.
		why = r and string.format("status %d", r.status) or (err:match(": ([^:]*)$") or "request failed")
		if r and r.status >= 400 and r.status < 500 and r.status ~= 429 then
			break
		end
		if i < attempts then
			drplan.sleep(i)
		end
	end
	return nil, "notify: webhook failed: " .. why
end

return M
