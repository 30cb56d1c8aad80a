#!/bin/sh
# baseline.sh METADATA_URL AUTHORIZED_KEYS
#
# What people run today without an agent, the baseline of docs/benchmarks.md
# fetch the key bound to the instance and replace authorized_keys
# with it through a temporary file and mv, so sshd never reads half a file.
# It keeps no key added by hand, validates nothing and does not fsync;
# ecs-keyagent does all three, so it has more to do.
set -eu
url=${1:?usage: baseline.sh METADATA_URL AUTHORIZED_KEYS}
file=${2:?usage: baseline.sh METADATA_URL AUTHORIZED_KEYS}
tmp=$(mktemp "$(dirname "$file")/.authorized_keys.XXXXXX")
trap 'rm -f "$tmp"' EXIT
curl -fsS --max-time 2 "$url/latest/meta-data/public-keys/0/openssh-key" > "$tmp"
chmod 600 "$tmp"
mv -f "$tmp" "$file"
trap - EXIT
