// Package e2e is the boot test of the packages (`make e2e`): it
// builds a minimal Debian 12 tree with debootstrap (cached between runs),
// installs the .deb, boots the tree with systemd-nspawn next to the metadata
// emulator on the host's loopback, and checks from the host what a user of
// the package would see.
//
// TestBoot follows the package's life: the service ready, the bound key
// that cloud-init left on a plain line adopted into the agent's block and
// logging in over a real ssh, password login refused, a rebound key taking
// over without a reboot (the adopted line revoked), a reboot changing
// nothing, an upgrade, a remove, a purge restoring sshd, and an install on
// a running system with ecs-user, which the agent then serves instead of
// root. TestContract boots a tree of its own and follows the platform's
// password contract with real password logins: off while a key pair is
// bound, back after chpasswd and after a detach with /etc/ssh as it was,
// off again for another key pair; and with mode "disable", off through all
// of it. The other tests check the unit's systemd-analyze security score,
// the maintainer scripts, the man page and the .rpm's layout.
//
// The tests carry the build tag e2e, so `make test` does not run them. They
// need root, debootstrap, systemd-nspawn, rpm, shellcheck and groff; with
// CI=true a missing prerequisite is a failure, not a skip. The Makefile
// passes the packages (E2E_DIST), the binaries (E2E_BIN) and the package
// version (E2E_PKG_VERSION).
package e2e
