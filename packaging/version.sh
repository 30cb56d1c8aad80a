#!/bin/sh
# Prints the version of a build, for the binary (`ecs-keyagent version`)
# and the packages alike (`make version`, `make deb`, `make rpm`), derived
# from `git describe --tags --always --dirty` so that dpkg and rpm both
# order successive builds correctly (neither accepts a bare commit hash,
# and rpm forbids '-' in a version):
#
#   v1.2.3                  -> 1.2.3
#   v1.2.3-rc1              -> 1.2.3~rc1          (sorts before 1.2.3)
#   v1.2.3-4-gabc1234       -> 1.2.3+git4.gabc1234 (4 commits after the tag)
#   abc1234 (no tag yet)    -> 0.0.0~git37.gabc1234 (37 commits in all)
#   any of these, -dirty    -> the same with .dirty appended
#
# The packages add their release (the Makefile's PKG_RELEASE): dpkg shows
# 1.2.3-1, rpm version 1.2.3 and release 1; the binary shows 1.2.3.
set -eu
desc=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
dirty=
case $desc in
*-dirty) dirty=.dirty; desc=${desc%-dirty} ;;
esac
if ! git describe --tags >/dev/null 2>&1; then
	count=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	printf '0.0.0~git%s.g%s%s\n' "$count" "$desc" "$dirty"
	exit 0
fi
ahead=
if printf '%s\n' "$desc" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
	ahead=$(printf '%s\n' "$desc" | sed -E 's/^.*-([0-9]+)-g([0-9a-f]+)$/+git\1.g\2/')
	desc=$(printf '%s\n' "$desc" | sed -E 's/-[0-9]+-g[0-9a-f]+$//')
fi
# A leading v goes; a pre-release suffix (-rc1) sorts before the release.
desc=${desc#v}
desc=$(printf '%s\n' "$desc" | tr '-' '~')
printf '%s%s%s\n' "$desc" "$ahead" "$dirty"
