#!/bin/sh
# check-junit.sh SAMPLE: the JUnit output must be well-formed XML.
if ! command -v xmllint >/dev/null 2>&1; then
	echo "SKIP: xmllint not found (apt-get install libxml2-utils)"
	exit 77
fi
out=$("$1" junit) || exit 1
printf '%s' "$out" | xmllint --noout - || exit 1
echo "junit output is well-formed XML"
