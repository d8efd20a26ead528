# Sourced by the .ci scripts: install the Debian packages drplan needs,
# only those that are missing, so a second run costs nothing.
dr_need_packages() {
	local missing=()
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "drplan: installing ${missing[*]}" >&2
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

DR_BUILD_PACKAGES=(gcc make cmake pkg-config libc6-dev libyaml-dev libjansson-dev
	liblua5.4-dev libcurl4-openssl-dev libssl-dev)
DR_TEST_PACKAGES=(json-schema-test-suite libxml2-utils python3 python3-jsonschema tzdata
	libmicrohttpd-dev curl jq openssl chromium)
