package securefs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"golang.org/x/sys/unix"
)

// testAttr stands in for security.selinux, which only a kernel with SELinux
// lets a test set: a user xattr goes through the same calls.
const testAttr = "user.ecs-keyagent-test-label"

func setAttr(t *testing.T, p, v string) {
	t.Helper()
	if err := unix.Lsetxattr(p, testAttr, []byte(v), 0); err != nil {
		agenttest.SkipOrFail(t, "the file system of %s takes no user xattrs: %v", p, err)
	}
}

func getAttr(t *testing.T, p string) string {
	t.Helper()
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, testAttr, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// A replaced file keeps its label; a ~/.ssh the agent creates gets the
// home's label with the type ssh_home_t, and a file in it inherits what the
// directory has.
func TestLabels(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	setAttr(t, home, "unconfined_u:object_r:user_home_dir_t:s0")
	d, err := OpenSystemDir(root, "/home", false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.label = testAttr
	ssh, err := d.Subdir(".ssh", true, os.Geteuid(), os.Getegid())
	if err != nil {
		t.Fatal(err)
	}
	defer ssh.Close()
	if got, want := getAttr(t, filepath.Join(home, ".ssh")), "unconfined_u:object_r:ssh_home_t:s0"; got != want {
		t.Errorf("label of a created ~/.ssh = %q, want %q", got, want)
	}
	file := filepath.Join(home, ".ssh", "authorized_keys")
	if err := ssh.WriteFile("authorized_keys", []byte("a\n"), 0o600, os.Geteuid(), os.Getegid()); err != nil {
		t.Fatal(err)
	}
	setAttr(t, file, "system_u:object_r:ssh_home_t:s0")
	if err := ssh.WriteFile("authorized_keys", []byte("b\n"), 0o600, os.Geteuid(), os.Getegid()); err != nil {
		t.Fatal(err)
	}
	if got := getAttr(t, file); got != "system_u:object_r:ssh_home_t:s0" {
		t.Errorf("label after a rewrite = %q, want the one it had", got)
	}
	if got := sshHomeLabel("root:object_r:admin_home_t:s0:c0.c1023"); got != "root:object_r:ssh_home_t:s0:c0.c1023" {
		t.Errorf("sshHomeLabel with an MLS range = %q", got)
	}
}
