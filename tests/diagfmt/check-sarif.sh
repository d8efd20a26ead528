#!/bin/sh
# check-sarif.sh SAMPLE SCHEMA: the SARIF output must validate against the
# official SARIF 2.1.0 schema (sarif-schema-2.1.0.json, from the npm package
# @microsoft/jest-sarif, lib/schemas/sarif-2.1.0-rtm.5.json).
if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
	echo "SKIP: python3 with jsonschema not found (apt-get install python3-jsonschema)"
	exit 77
fi
"$1" sarif | python3 -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(sys.stdin)
jsonschema.Draft4Validator(schema).validate(log)
print("sarif output is valid SARIF 2.1.0:", len(log["runs"][0]["results"]), "results")
' "$2"
