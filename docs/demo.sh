#!/bin/sh
# make demo: ecs-keyagent against the project's metadata emulator, on a
# scratch filesystem tree (--root), as whichever user runs it. Nothing
# outside the temporary directory is read for keys or written. First the
# one-shot path (sync), then the service (run) for a few seconds: a key
# bound and replaced while it runs, and a hand edit of its block repaired,
# until SIGTERM stops it. Every wait is bounded; the whole takes seconds.
set -eu
bin=${1:-bin}
agent="$bin/ecs-keyagent"
emu="$bin/ecs-metadata-emulator"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ecs-keyagent-demo.XXXXXX")
root="$tmp/root"
emu_pid=
svc_pid=
stop() { # PID: SIGTERM, then SIGKILL if it is still there after 10 s
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
	[ -z "$svc_pid" ] || stop "$svc_pid"
	[ -z "$emu_pid" ] || stop "$emu_pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Bold headings on a terminal only: plain text when piped, with NO_COLOR
# set (no-color.org) or on a dumb terminal.
bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR-}" ] && [ "${TERM:-dumb}" != dumb ]; then
	bold=$(printf '\033[1m') plain=$(printf '\033[0m')
fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*" | sed "s|$tmp|\$DEMO|g"; "$@" 2>&1 | sed "s|$tmp|\$DEMO|g"; }
ms() { date +%s%3N; }
# wait_for WHAT COMMAND...: run COMMAND every 0.1 s until it succeeds; give
# up after 15 s, showing the service's log.
wait_for() {
	what=$1
	shift
	start=$(ms)
	until "$@"; do
		if [ $(($(ms) - start)) -ge 15000 ]; then
			echo "demo: gave up after 15 s waiting for $what; the service's log:" >&2
			sed "s|$tmp|\$DEMO|g" "$tmp/service.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "($what after $(($(ms) - start)) ms)"
}

# A scratch system: one login user "demo" (your uid), whose authorized_keys
# already holds a key added by hand.
mkdir -p "$root/etc" "$root/home/demo/.ssh"
echo "demo:x:$(id -u):$(id -g):demo:/home/demo:/bin/sh" > "$root/etc/passwd"
chmod 0700 "$root/home/demo/.ssh"
printf '# added by hand\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl laptop' \
	> "$root/home/demo/.ssh/authorized_keys"
chmod 0600 "$root/home/demo/.ssh/authorized_keys"
# ... and sshd laid out like an Ubuntu cloud image: drop-ins first, one of
# them turning password login on.
mkdir -p "$root/etc/ssh/sshd_config.d"
printf 'Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n' > "$root/etc/ssh/sshd_config"
echo 'PasswordAuthentication yes' > "$root/etc/ssh/sshd_config.d/50-cloud-init.conf"

say "metadata emulator on 127.0.0.1, hardened mode enforced, a fresh key bound"
"$emu" --listen 127.0.0.1:0 --token-policy enforced --generate-key "$tmp/id_first" \
	--addr-file "$tmp/addr" > "$tmp/emulator.log" 2>&1 &
emu_pid=$!
i=0
while [ ! -s "$tmp/addr" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/emulator.log"; exit 1; }
	sleep 0.1
done
url=$(cat "$tmp/addr")
echo "emulator at $url; bound key: $(cut -d' ' -f1,3 "$tmp/id_first.pub")"

sync() { run "$agent" sync --root "$root" --endpoint "$url" --user demo "$@" || true; }

say "sync: the bound key goes into a marked block; the hand-added key stays;"
say "password login goes off through a drop-in that sorts before cloud-init's"
sync
run cat "$root/home/demo/.ssh/authorized_keys"
run cat "$root/etc/ssh/sshd_config.d/00-ecs-keyagent.conf"

say "sync again: nothing to do, nothing written"
sync

say "the key pair is replaced in the console: --dry-run shows the change"
"$emu" --control "$url" --generate-key "$tmp/id_second"
sync --dry-run
say "... and sync applies it: old key out, new key in, hand-added key untouched"
sync
run cat "$root/home/demo/.ssh/authorized_keys"

say "status: the last sync's result"
run "$agent" status --root "$root"

say "the key pair is detached: the block is removed, the file is as the user left it,"
say "and password login comes back: the drop-in is removed (the platform contract)"
"$emu" --control "$url"
sync
run cat "$root/home/demo/.ssh/authorized_keys"

# The service: what the packages' systemd unit runs, here on the scratch
# tree, polling every second (the default is 30 s).
ak="$root/home/demo/.ssh/authorized_keys"
has() { grep -qF "$(cut -d' ' -f2 "$1")" "$ak"; }  # the key PUB.pub in the file
has_block() { grep -qxF '# BEGIN ecs-keyagent managed keys: edits inside this block are overwritten' "$ak"; }

say "the service: ecs-keyagent run, with poll_interval 1s in its configuration"
mkdir -p "$root/etc/ecs-keyagent"
echo 'poll_interval = "1s"' > "$root/etc/ecs-keyagent/config.toml"
run cat "$root/etc/ecs-keyagent/config.toml"
printf '$ %s &\n' "$agent run --root $root --endpoint $url --user demo" | sed "s|$tmp|\$DEMO|g"
"$agent" run --root "$root" --endpoint "$url" --user demo > "$tmp/service.log" 2>&1 &
svc_pid=$!
# Ready: its first sync reached the metadata service (no key bound yet).
wait_for "service ready" grep -q '"ready"' "$tmp/service.log"

say "a key pair is bound in the console while it runs: it is in the file at the next poll"
"$emu" --control "$url" --generate-key "$tmp/id_third"
wait_for "key bound" has "$tmp/id_third.pub"
run cat "$ak"

say "the key pair is replaced: the old key goes, the new one comes, no sync by hand"
"$emu" --control "$url" --generate-key "$tmp/id_fourth"
rotated() { has "$tmp/id_fourth.pub" && ! has "$tmp/id_third.pub"; }
wait_for "key replaced" rotated
run cat "$ak"

say "someone deletes the managed block by hand: the service puts it back"
edit='/^# BEGIN ecs-keyagent managed keys/,/^# END ecs-keyagent managed keys/d'
printf "\$ sed -i '%s' %s\n" "$edit" "$ak" | sed "s|$tmp|\$DEMO|g"
sed -i "$edit" "$ak"
wait_for "block repaired" has_block
run cat "$ak"

say "SIGTERM (systemctl stop): the service finishes what it is doing and exits 0"
printf '$ kill -TERM %s\n' "$svc_pid"
kill -TERM "$svc_pid"
i=0
while kill -0 "$svc_pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
status=0
if kill -0 "$svc_pid" 2>/dev/null; then
	echo "demo: the service did not stop within 10 s of SIGTERM" >&2
	exit 1
fi
wait "$svc_pid" || status=$?
svc_pid=
echo "exit status $status"
say "its log: JSON lines when stderr is not a terminal (the journal under systemd)"
sed "s|$tmp|\$DEMO|g" "$tmp/service.log"
[ "$status" -eq 0 ]
