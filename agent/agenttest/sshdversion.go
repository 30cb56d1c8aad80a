package agenttest

import (
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// SSHDVersion is an OpenSSH release, as in "OpenSSH_8.4p1".
type SSHDVersion struct{ Major, Minor int }

// Before reports whether v is older than major.minor.
func (v SSHDVersion) Before(major, minor int) bool {
	return v.Major < major || v.Major == major && v.Minor < minor
}

func (v SSHDVersion) String() string {
	return "OpenSSH " + strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
}

var (
	sshdVersions sync.Map // path -> SSHDVersion
	versionRE    = regexp.MustCompile(`OpenSSH_([0-9]+)\.([0-9]+)`)
)

// VersionOf returns the release of the sshd at path, from what it prints
// for -V: the version, or, where -V is unknown (OpenSSH 8.4), the usage
// message, which starts with the version. It fails t when no version is
// printed.
func VersionOf(t testing.TB, path string) SSHDVersion {
	t.Helper()
	if v, ok := sshdVersions.Load(path); ok {
		return v.(SSHDVersion)
	}
	out, _ := exec.Command(path, "-V").CombinedOutput()
	m := versionRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s -V: no OpenSSH version in %q", path, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	v := SSHDVersion{major, minor}
	sshdVersions.Store(path, v)
	return v
}
