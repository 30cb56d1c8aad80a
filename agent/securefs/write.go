package securefs

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"
)

// tempMarker sits between ".<name>" and the random part of our temporary names, so
// CleanTemp can recognise ours after a crash.
const tempMarker = ".ecs-keyagent-"

func tempPrefix(name string) string { return "." + name + tempMarker }

// WriteFile atomically replaces name with data, owned by uid:gid with permissions
// mode. A crash at any point leaves the old or the new file, plus at most one
// temporary file that CleanTemp removes; on error name is untouched. It refuses when
// name exists and is not a regular file with a single link.
func (d *Dir) WriteFile(name string, data []byte, mode fs.FileMode, uid, gid int) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	p := join(d.path, name)
	if mode&^fs.ModePerm != 0 || mode&0o022 != 0 {
		return fmt.Errorf("write %s: mode %v is not plain permissions without group/other write", p, mode)
	}
	// renameat would replace a symlink entry, not its target, so this is not needed
	// for safety; but a symlink or link where the keys belong means someone is trying
	// something, and we refuse rather than "fix" it, as the fixes for CVE-2011-3870
	// (Puppet) and the cloud agents that followed did.
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == unix.ENOENT:
	case err != nil:
		return fmt.Errorf("stat %s: %w", p, err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return notRegular(p, st.Mode)
	case st.Nlink > 1:
		return refuse(p, "it has %d hard links", st.Nlink)
	}

	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := tempPrefix(name) + hex.EncodeToString(rnd[:])
	tp := join(d.path, tmp)
	var fd int
	err = retryEINTR(func() (err error) {
		fd, err = unix.Openat(d.fd, tmp, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", tp, err)
	}
	if st.Nlink == 1 { // replacing a file: keep its SELinux label
		if err := copyLabel(d.label, d.fd, name, fd); err != nil {
			unix.Close(fd)
			unix.Unlinkat(d.fd, tmp, 0)
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	if err := fillTemp(fd, tp, data, uint32(mode.Perm()), uid, gid); err != nil {
		unix.Unlinkat(d.fd, tmp, 0)
		return err
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, name); err != nil {
		unix.Unlinkat(d.fd, tmp, 0)
		return fmt.Errorf("rename %s to %s: %w", tp, p, err)
	}
	// The rename is durable only once the directory is synced.
	if err := unix.Fsync(d.fd); err != nil {
		return fmt.Errorf("sync %s: %w", d.path, err)
	}
	return nil
}

// fillTemp sets owner and mode through fd, writes data, syncs and closes fd (always).
// fsync comes before the rename so that a crash cannot leave the new name pointing at
// an empty or partial file (the ext4 delayed-allocation zero-length file problem
// that renameio's tempfile.go documents).
func fillTemp(fd int, tp string, data []byte, mode uint32, uid, gid int) error {
	defer unix.Close(fd)
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", tp, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tp, err)
	}
	for len(data) > 0 {
		var n int
		err := retryEINTR(func() (err error) {
			n, err = unix.Write(fd, data)
			return err
		})
		if err != nil {
			return fmt.Errorf("write %s: %w", tp, err)
		}
		data = data[n:]
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync %s: %w", tp, err)
	}
	return nil
}

// Remove unlinks name, which must not be a directory; a missing name is not an error.
func (d *Dir) Remove(name string) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	p := join(d.path, name)
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return refuse(p, "it is a directory")
	}
	// Without AT_REMOVEDIR unlinkat never removes a directory swapped in since the look.
	err = unix.Unlinkat(d.fd, name, 0)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if err := unix.Fsync(d.fd); err != nil {
		return fmt.Errorf("sync %s: %w", d.path, err)
	}
	return nil
}

// CleanTemp removes temporary files WriteFile left for name after a crash
// (".<name>.ecs-keyagent-*") and returns how many it removed. Directories of that name
// are not ours and are left alone. Run it under Lock, or it may remove the temporary
// file of a WriteFile in progress.
func (d *Dir) CleanTemp(name string) (int, error) {
	if err := checkName(d.path, name); err != nil {
		return 0, err
	}
	names, err := readNames(d.fd)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", d.path, err)
	}
	prefix := tempPrefix(name)
	removed := 0
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) || len(n) == len(prefix) {
			continue
		}
		switch err := unix.Unlinkat(d.fd, n, 0); err {
		case nil:
			removed++
		case unix.ENOENT, unix.EISDIR:
		default:
			return removed, fmt.Errorf("remove %s: %w", join(d.path, n), err)
		}
	}
	if removed > 0 {
		if err := unix.Fsync(d.fd); err != nil {
			return removed, fmt.Errorf("sync %s: %w", d.path, err)
		}
	}
	return removed, nil
}
