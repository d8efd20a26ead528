#!/bin/sh
# report-xml.sh DRPLAN TEST-JOBREPORT WORKDIR PLAN: every format of `drplan report`
# on sample jobs; JUnit and HTML parsed by xmllint. Exit 77 without xmllint.
set -u
DRPLAN=$1 GEN=$2 W=$3 PLAN=$4
command -v xmllint >/dev/null 2>&1 || { echo "xmllint not installed: skipped"; exit 77; }
rm -rf "$W" && mkdir -p "$W" || exit 1
"$GEN" --samples "$W/state" || { echo "FAIL: cannot write the sample store"; exit 1; }
fail=0
check() { # expected-status description command...
	want=$1 what=$2; shift 2
	"$@" >"$W/out" 2>"$W/err"; got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL: $what: exit $got, expected $want"; cat "$W/err"; fail=1
	fi
}
for job in erp-drill-1 erp-drill-esc erp-drill-dirty; do
	want=0; [ $job = erp-drill-dirty ] && want=1
	for f in text json junit markdown html; do
		check $want "$job $f" "$DRPLAN" report --state "$W/state" --format $f \
			--output "$W/$job.$f" $job
	done
	xmllint --noout "$W/$job.junit" || { echo "FAIL: $job JUnit is not XML"; fail=1; }
	# The HTML parser of libxml2 does not know SVG elements ("Tag svg
	# invalid"); the document must still parse, and is well-formed XML too.
	xmllint --html --noout "$W/$job.html" 2>"$W/html-err" ||
		{ echo "FAIL: $job HTML does not parse"; fail=1; }
	if grep -v 'Tag [a-z]* invalid' "$W/html-err" | grep -q 'error'; then
		echo "FAIL: $job HTML errors:"; grep -v 'Tag [a-z]* invalid' "$W/html-err"; fail=1
	fi
	xmllint --noout "$W/$job.html" || { echo "FAIL: $job HTML is not well-formed"; fail=1; }
	grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$W/$job.html" ||
		{ echo "FAIL: $job HTML has no SVG timeline"; fail=1; }
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/$job.json" 2>/dev/null ||
		{ command -v python3 >/dev/null && { echo "FAIL: $job JSON"; fail=1; }; }
done
# Parsed values: the JUnit of the failed cleanup names the failure.
n=$(xmllint --xpath 'string(/testsuites/@failures)' "$W/erp-drill-dirty.junit")
[ "$n" = 2 ] || { echo "FAIL: dirty drill: $n failures, expected 2 (cleanup, job)"; fail=1; }
m=$(xmllint --xpath 'string(//testcase[@classname="cleanup"]/failure/@message)' "$W/erp-drill-dirty.junit")
[ "$m" = "drill cleanup not verified" ] || { echo "FAIL: cleanup failure: '$m'"; fail=1; }
m=$(xmllint --xpath 'string(//testcase[@classname="machines.app"][2]/@name)' "$W/erp-drill-esc.junit")
[ "$m" = "app<&\"'>" ] || { echo "FAIL: escaped machine name read back as '$m'"; fail=1; }
# Objectives from a plan file (plans/erp.yaml: rto 45m, rpo 15m).
check 0 "--plan" "$DRPLAN" report --state "$W/state" --plan "$PLAN" erp-drill-1
grep -q '^  rto        45m00s  10m30s    met$' "$W/out" ||
	{ echo "FAIL: --plan objectives"; cat "$W/out"; fail=1; }
check 3 "--plan missing" "$DRPLAN" report --state "$W/state" --plan "$W/none.yaml" erp-drill-1
# History, and the errors.
check 0 "history" "$DRPLAN" report --state "$W/state" history erp
grep -q 'erp-drill-dirty' "$W/out" || { echo "FAIL: history lists no drills"; fail=1; }
check 3 "unknown job" "$DRPLAN" report --state "$W/state" erp-drill-none
grep -q 'erp-drill-none' "$W/err" || { echo "FAIL: unknown job message"; cat "$W/err"; fail=1; }
check 2 "bad format" "$DRPLAN" report --state "$W/state" --format pdf erp-drill-1
check 2 "bad id" "$DRPLAN" report --state "$W/state" ../x
[ $fail = 0 ] && echo "report/xmllint: all checks passed"
exit $fail
