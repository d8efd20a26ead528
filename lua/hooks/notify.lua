-- notify.lua: post a message about the run to Teams or Slack.
--
--   post:
--     - lua: lua/hooks/notify.lua
--       env: [TEAMS_WEBHOOK_URL]
--       args: { url_env: TEAMS_WEBHOOK_URL, text: "data group is up" }
--
-- args: url_env (the variable that holds the webhook URL; default
-- DRPLAN_WEBHOOK_URL), text (default: a line naming the plan, operation
-- and group), required (default false: a failed notification only warns).
local notify = require("drplan.notify")

local args = drplan.args or {}
local ctx = drplan.context or {}
local text = args.text or string.format("drplan %s: %s of group %s finished",
	tostring(ctx.plan or "?"), tostring(ctx.operation or "?"), tostring(ctx.group or "?"))

local ok, err = notify.send(text, { url_env = args.url_env, title = args.title })
if not ok then
	if args.required then
		drplan.fail(err)
	end
	drplan.log("warn", "%s", err)
else
	drplan.log("notification sent")
end
