package securefs

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is an open directory reached without following symlinks in the parts users
// control. A Dir is not safe for concurrent Close; its other methods only use the fd.
type Dir struct {
	fd   int
	path string
	// label is the extended attribute holding SELinux labels when SELinux
	// is enabled, else "" (see label.go).
	label string
}

// maxSymlinks bounds symlinks followed in one walk, as the kernel's MAXSYMLINKS (40).
const maxSymlinks = 40

const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// OpenHome opens the home directory home (absolute, as in passwd) of user uid under
// the filesystem root root. The home's parent is walked from root trusting only
// directories owned by root or the euid and not writable by group or others (see the
// package comment); the home is opened with O_NOFOLLOW and must be owned by uid or
// root and not writable by group or others.
func OpenHome(root, home string, uid int) (*Dir, error) {
	comps, err := splitAbs(home)
	if err != nil {
		return nil, fmt.Errorf("open home %q: %w", home, err)
	}
	if len(comps) == 0 {
		return nil, fmt.Errorf("open home %q: it is the root directory itself", home)
	}
	if uid < 0 {
		return nil, fmt.Errorf("open home %q: invalid uid %d", home, uid)
	}
	rootfd, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	w := &walker{rootfd: rootfd, follow: true}
	pfd, err := w.walk(comps[:len(comps)-1], false)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pfd)
	p := "/" + strings.Join(comps, "/")
	fd, err := openDir(pfd, comps[len(comps)-1], p)
	if err != nil {
		return nil, err
	}
	if err := checkFD(fd, p, uid, 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Dir{fd: fd, path: p, label: labelAttr()}, nil
}

// OpenSystemDir opens a root-owned directory such as /etc/ssh under root, following
// no symlinks below root; every directory must be owned by root or the euid and not
// writable by group or others. With create, a missing last component is made 0755
// and owned by root (when running as root).
func OpenSystemDir(root, path string, create bool) (*Dir, error) {
	comps, err := splitAbs(path)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", path, err)
	}
	rootfd, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	w := &walker{rootfd: rootfd}
	fd, err := w.walk(comps, create)
	if err != nil {
		return nil, err
	}
	return &Dir{fd: fd, path: "/" + strings.Join(comps, "/"), label: labelAttr()}, nil
}

// OpenOutputDir opens the existing directory path under root, in which the agent
// publishes a file for another program to read, such as a metrics textfile for the
// node exporter. Like OpenSystemDir it follows no symlinks below root, and the
// directory itself must be owned by root or the euid and not writable by group or
// others; unlike it, the directories above it may belong to anyone, as long as they
// are not writable by group or others: Debian's /var/lib/prometheus belongs to the
// prometheus user and holds the root-owned node-exporter directory. Such an owner can
// rename what its directory holds, but since nothing is followed, the directory
// reached at the end is still one that only root could have made and only root can
// write. Nothing is created.
func OpenOutputDir(root, path string) (*Dir, error) {
	comps, err := splitAbs(path)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", path, err)
	}
	rootfd, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	defer unix.Close(rootfd)
	w := &walker{rootfd: rootfd, anyOwnerAbove: true}
	fd, err := w.walk(comps, false)
	if err != nil {
		return nil, err
	}
	return &Dir{fd: fd, path: "/" + strings.Join(comps, "/"), label: labelAttr()}, nil
}

// splitAbs splits an absolute path into components, refusing ".." so that what the
// caller names and what we open cannot differ lexically.
func splitAbs(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("not an absolute path")
	}
	var comps []string
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
		case "..":
			return nil, fmt.Errorf("it contains \"..\"")
		default:
			comps = append(comps, c)
		}
	}
	return comps, nil
}

// openRoot opens the configured root by path (it is configuration, see the package
// comment) and requires it to be trusted.
func openRoot(root string) (int, error) {
	if root == "" {
		root = "/"
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open root %s: %w", root, err)
	}
	if err := checkFD(fd, root, trustedOwners()...); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// checkFD fstats fd and applies checkOwnerMode to what it finds.
func checkFD(fd int, p string, owners ...int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	return checkOwnerMode(p, &st, owners...)
}

// openDir opens the directory name in dirfd without following a symlink, and turns
// ELOOP/ENOTDIR into a refusal that says what is there instead.
func openDir(dirfd int, name, p string) (int, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Openat(dirfd, name, dirFlags, 0)
		return err
	})
	if err == nil {
		return fd, nil
	}
	if err == unix.ELOOP || err == unix.ENOTDIR {
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFLNK:
				return -1, refuse(p, "it is a symbolic link")
			case unix.S_IFDIR:
				// It was a symlink a moment ago: someone is swapping it.
				return -1, refuse(p, "it changed from a symbolic link to a directory while being opened")
			}
			return -1, refuse(p, "it is %s, not a directory", kind(st.Mode))
		}
	}
	return -1, fmt.Errorf("open %s: %w", p, err)
}

// mkdirOpen makes the directory name in dirfd and opens it. A directory we just made
// is ours and empty; if what we open is not, the owner of dirfd swapped something in
// between, and we refuse rather than chown it. Ownership and mode are set through the
// fd, never by path. An existing directory is returned as is for the caller to check.
func mkdirOpen(dirfd int, name, p string, mode uint32, uid, gid int) (int, error) {
	fd, _, err := mkdirOpenNew(dirfd, name, p, mode, uid, gid)
	return fd, err
}

// mkdirOpenNew is mkdirOpen that also says whether it made the directory.
func mkdirOpenNew(dirfd int, name, p string, mode uint32, uid, gid int) (int, bool, error) {
	err := unix.Mkdirat(dirfd, name, mode)
	if err != nil && err != unix.EEXIST {
		return -1, false, fmt.Errorf("create %s: %w", p, err)
	}
	created := err == nil
	fd, err := openDir(dirfd, name, p)
	if err != nil || !created {
		return fd, false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("stat %s: %w", p, err)
	}
	empty, err := isEmptyDir(fd)
	if err != nil || !empty || int(st.Uid) != os.Geteuid() {
		unix.Close(fd)
		if err != nil {
			return -1, false, fmt.Errorf("read %s: %w", p, err)
		}
		return -1, false, refuse(p, "it was replaced while being created")
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("chown %s: %w", p, err)
	}
	// fchmod after fchown: chown may clear mode bits, and mkdir's mode passed the umask.
	if err := unix.Fchmod(fd, mode); err != nil {
		unix.Close(fd)
		return -1, false, fmt.Errorf("chmod %s: %w", p, err)
	}
	return fd, true, nil
}
