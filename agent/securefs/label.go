package securefs

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// selinuxAttr is where SELinux keeps a file's label (xattr(7)).
const selinuxAttr = "security.selinux"

// labelAttr returns selinuxAttr when SELinux is enabled (selinuxfs is
// mounted at /sys/fs/selinux), else "": nothing about labels runs.
func labelAttr() string {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		return selinuxAttr
	}
	return ""
}

// copyLabel gives the file open as dst the label of the file src in
// dirfd, so that a replaced authorized_keys keeps the label sshd may read:
// a file root creates under /root or /home otherwise gets its parent's
// type, which sshd may not read ("Permission denied (publickey)"). A
// source without a label is not an error.
func copyLabel(attr string, dirfd int, src string, dst int) error {
	if attr == "" {
		return nil
	}
	buf := make([]byte, 512)
	n, err := unix.Lgetxattr(fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, src), attr, buf)
	switch {
	case err == unix.ENODATA || err == unix.ENOTSUP:
		return nil
	case err != nil:
		return fmt.Errorf("read label of %s: %w", src, err)
	}
	if err := unix.Fsetxattr(dst, attr, buf[:n], 0); err != nil {
		return fmt.Errorf("set label: %w", err)
	}
	return nil
}

// labelSSHDir gives a ~/.ssh the agent created the label restorecon would
// set under the targeted policy: the home's label with the type
// ssh_home_t (its file_contexts: HOME_DIR/\.ssh(/.*)? and /root/\.ssh(/.*)?).
// Files later created in it inherit that type.
func labelSSHDir(attr string, homefd, sshfd int) error {
	if attr == "" {
		return nil
	}
	buf := make([]byte, 512)
	n, err := unix.Fgetxattr(homefd, attr, buf)
	if err != nil {
		return nil // an unlabelled home: leave the default
	}
	label := sshHomeLabel(strings.TrimRight(string(buf[:n]), "\x00"))
	if label == "" {
		return nil
	}
	if err := unix.Fsetxattr(sshfd, attr, []byte(label), 0); err != nil {
		return fmt.Errorf("set label: %w", err)
	}
	return nil
}

// sshHomeLabel turns "user:role:type:level" into the same with type
// ssh_home_t, or "" when label is not of that shape.
func sshHomeLabel(label string) string {
	parts := strings.SplitN(label, ":", 4)
	if len(parts) < 3 {
		return ""
	}
	parts[2] = "ssh_home_t"
	return strings.Join(parts, ":")
}
