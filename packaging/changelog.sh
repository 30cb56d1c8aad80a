#!/bin/sh
# Writes the Debian changelog the .deb installs as
# /usr/share/doc/ecs-keyagent/changelog.Debian.gz (Debian Policy 12.7;
# format: deb-changelog(5)):
#
#   SOURCE_DATE_EPOCH=T sh packaging/changelog.sh VERSION-RELEASE OUT [SOURCE]
#
# SOURCE (default packaging/changelog) is a changelog whose first entry may
# be a placeholder for the build: @VERSION@ becomes VERSION-RELEASE, @DATE@
# the time SOURCE_DATE_EPOCH (UTC, as deb-changelog(5) writes it) and
# @MAINTAINER@ the maintainer in packaging/nfpm.yaml. When SOURCE already
# has an entry for VERSION-RELEASE (a release build: its entry was written
# when it was tagged), the placeholder entry is left out. The output is
# compressed with gzip -9n, which records no name and no time, so the same
# inputs give the same bytes.
set -eu
[ $# -ge 2 ] || { echo "usage: changelog.sh VERSION-RELEASE OUT [SOURCE]" >&2; exit 2; }
version=$1
out=$2
dir=$(dirname "$0")
src=${3:-$dir/changelog}
: "${SOURCE_DATE_EPOCH:?changelog.sh: SOURCE_DATE_EPOCH is not set}"
date=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a, %d %b %Y %H:%M:%S +0000')
maintainer=$(sed -n 's/^maintainer: *//p' "$dir/nfpm.yaml")
[ -n "$maintainer" ] || { echo "changelog.sh: no maintainer in $dir/nfpm.yaml" >&2; exit 1; }
released=0
if grep -Fq "ecs-keyagent ($version) " "$src"; then
	released=1
fi
# The placeholder entry runs from its header line to its trailer line ( -- ...)
# and the blank line after it.
awk -v version="$version" -v date="$date" -v maintainer="$maintainer" -v released="$released" '
	/^[^ ].*\(@VERSION@\)/ { placeholder = 1 }
	placeholder && released { if (/^ -- /) { drop_blank = 1; placeholder = 0 }; next }
	drop_blank { drop_blank = 0; if ($0 == "") next }
	{
		gsub(/@VERSION@/, version); gsub(/@DATE@/, date); gsub(/@MAINTAINER@/, maintainer)
		if (/^ -- /) placeholder = 0
		print
	}
' "$src" | gzip -9n > "$out.tmp"
mv "$out.tmp" "$out"
