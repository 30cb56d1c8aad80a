// Package e2e is the boot test of the packages (`make e2e`): it
// builds a minimal Debian 12 tree with debootstrap (cached between runs),
// installs the .deb, boots the tree with systemd-nspawn next to the metadata
// emulator on the host's loopback, and checks from the host what a user of
// the package would see: the service ready, the bound key logging in over a
// real ssh, password login refused, a rebound key taking over without a
// reboot, a reboot changing nothing, and a purge restoring sshd. It also
// checks the unit's systemd-analyze security score, the maintainer scripts,
// the man page and the .rpm's layout.
//
// The tests carry the build tag e2e, so `make test` does not run them. They
// need root, debootstrap, systemd-nspawn, rpm, shellcheck and groff; with
// CI=true a missing prerequisite is a failure, not a skip. The Makefile
// passes the packages (E2E_DIST), the binaries (E2E_BIN) and the package
// version (E2E_PKG_VERSION).
package e2e
