// Package agenttest holds what the project's tests share, as net/http/httptest
// does for HTTP: the one policy for prerequisites a test cannot create, the test
// user a scratch tree belongs to, scratch filesystem roots with etc/passwd and
// homes, authorized_keys lines, a stand-in for systemd's notification socket,
// free loopback ports, and the sshd configuration layouts of the distributions
// the agent meets.
//
// Only tests import it, so it never ships in a binary.
//
// # Who runs the tests
//
// Tests run as whoever runs them. A scratch tree's test user is that user
// (UserID, GroupID): the agent trusts directories owned by root or by its
// effective uid (see package securefs), so an ordinary developer's
// `go test ./...` exercises the real code paths. As root, the test user is a
// distinct uid instead, so that CI keeps proving the chown to another user.
//
// Only what truly needs root asks for it with MustHaveRoot: files owned by a
// foreign user, a real account for a real login, mounts, the boot test.
//
// # Prerequisites
//
// A test whose prerequisite is missing (root, a command, sshd) is skipped
// with the reason, except when CI=true: CI must run every test, so there the
// same test fails. SkipOrFail is that policy; MustHaveRoot, MustHaveCommands
// and MustHaveSSHD apply it, and HaveRoot gives it to callers without a
// testing.TB, such as a testscript condition.
//
// # sshd layouts
//
// The sshd_config trees under testdata/layouts are those of the images the
// agent meets, reduced to what the agent reads: debian12 (an Include of
// sshd_config.d first), ubuntu-cloud (debian12 plus cloud-init's drop-in
// turning passwords on), rhel9 (50-redhat.conf) and no-include (CentOS 7
// style: everything in the main file). Layout writes one into a scratch root.
package agenttest
