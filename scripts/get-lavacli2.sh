#!/bin/sh
# get-lavacli2.sh DIR
#
# Puts lavacli 2.x (Debian unstable's package; bookworm's own lavacli is
# 1.2) into DIR without touching the system's apt sources: apt-get runs
# on a private sources list, state and cache under DIR/apt, downloads the
# .deb and unpacks it under DIR/root. It leaves DIR/lavacli, a wrapper
# that runs it with Debian's /usr/bin/python3. The lab end-to-end tests
# (internal/labe2e) run both lavacli versions against `basalt server`.
# lavacli is pure Python: the Python modules it imports are installed
# from the system's own suite when missing. Does nothing when
# DIR/lavacli already answers --version.
set -eu
dir=${1:?usage: get-lavacli2.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -x "$dir/lavacli" ] && "$dir/lavacli" --version >/dev/null 2>&1; then
	exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
missing=""
for p in python3-ruamel.yaml python3-voluptuous python3-aiohttp python3-requests python3-yaml python3-jinja2; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "get-lavacli2: installing$missing" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
apt="$dir/apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" >"$apt/sources.list"
set -- -o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Architecture=amd64
apt-get "$@" update -qq >/dev/null
rm -f "$dir"/lavacli_*.deb
# As root apt-get warns that it downloads unsandboxed (DIR is not the
# _apt user's): harmless, but only said on failure.
(cd "$dir" && apt-get "$@" download -qq lavacli >"$apt/download.log" 2>&1) || { cat "$apt/download.log" >&2; exit 1; }
deb=$(ls "$dir"/lavacli_*_all.deb | tail -n 1)
rm -rf "$dir/root"
dpkg -x "$deb" "$dir/root"
cat >"$dir/lavacli" <<EOF
#!/bin/sh
PYTHONPATH="$dir/root/usr/lib/python3/dist-packages" exec /usr/bin/python3 -m lavacli "\$@"
EOF
chmod +x "$dir/lavacli"
echo "get-lavacli2: $("$dir/lavacli" --version) in $dir" >&2
