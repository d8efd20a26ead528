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
# Node.js and npm (for Azurite) from Debian, unless a Node.js is already
# installed another way (NodeSource's nodejs carries its own npm and
# conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || DR_TEST_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || DR_TEST_PACKAGES+=(npm)

# Azurite (Microsoft's Azure Storage emulator, from npm) for the azblob state
# store tests, pinned, installed into PREFIX (the tests look in
# <build dir>/azurite). A second run costs nothing.
DR_AZURITE_VERSION=3.35.0
dr_install_azurite() {
	local prefix=$1 bin=$1/node_modules/.bin/azurite-blob
	if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$DR_AZURITE_VERSION" ]; then
		return 0
	fi
	echo "drplan: installing azurite@$DR_AZURITE_VERSION into $prefix" >&2
	mkdir -p "$prefix" &&
		npm install --silent --no-audit --no-fund --prefix "$prefix" \
			"azurite@$DR_AZURITE_VERSION" >&2 &&
		[ -x "$bin" ]
}
