#!/bin/sh
# make demo: ecs-keyagent against the project's metadata emulator, on a
# scratch filesystem tree (--root), as whichever user runs it. Nothing
# outside the temporary directory is read for keys or written.
set -eu
bin=${1:-bin}
agent="$bin/ecs-keyagent"
emu="$bin/ecs-metadata-emulator"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ecs-keyagent-demo.XXXXXX")
root="$tmp/root"
emu_pid=
cleanup() {
	[ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$tmp|\$DEMO|g"; "$@" 2>&1 | sed "s|$tmp|\$DEMO|g"; }

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
echo
