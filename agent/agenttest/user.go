package agenttest

import "os"

// The test user of a scratch tree when the tests run as root: another uid
// and gid than the process's, so that the agent's chown is exercised.
const (
	rootTestUID = 4242
	rootTestGID = 4243
)

// UserID is the uid a scratch tree's test user has: the effective uid of
// the test, or rootTestUID when that is root.
func UserID() int {
	if u := os.Geteuid(); u != 0 {
		return u
	}
	return rootTestUID
}

// GroupID is the test user's primary gid: the effective gid of the test,
// or rootTestGID when running as root.
func GroupID() int {
	if os.Geteuid() != 0 {
		return os.Getegid()
	}
	return rootTestGID
}
