package securefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Stat is what callers need of a file or directory.
type Stat struct {
	Mode    fs.FileMode
	UID     int
	GID     int
	Size    int64
	Nlink   uint64
	Ino     uint64
	ModTime time.Time
}

// ErrUnsafe is wrapped by every refusal on safety grounds.
var ErrUnsafe = errors.New("unsafe path")

// unsafeError is a refusal: "refuse PATH: REASON", matching ErrUnsafe.
type unsafeError struct {
	path   string
	reason string
}

func (e *unsafeError) Error() string { return "refuse " + e.path + ": " + e.reason }

func (e *unsafeError) Unwrap() error { return ErrUnsafe }

func refuse(path, format string, args ...any) error {
	return &unsafeError{path: path, reason: fmt.Sprintf(format, args...)}
}

// checkName accepts a single path component only, so no caller can walk
// anywhere but into the directory it holds.
func checkName(dir, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("use name %q in %s: not a single path component", name, dir)
	}
	return nil
}

func join(dir, name string) string { return path.Join(dir, name) }

func statFromUnix(st *unix.Stat_t) Stat {
	return Stat{
		Mode:    fileMode(st.Mode),
		UID:     int(st.Uid),
		GID:     int(st.Gid),
		Size:    st.Size,
		Nlink:   uint64(st.Nlink),
		Ino:     st.Ino,
		ModTime: time.Unix(st.Mtim.Unix()),
	}
}

// fileMode converts st_mode to fs.FileMode, as os.Stat does.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// kind names a file type in plain words for refusals.
func kind(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a named pipe"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "of unknown type"
}

// notRegular refuses a file that is not a regular one, saying what it is.
func notRegular(p string, mode uint32) error {
	if mode&unix.S_IFMT == unix.S_IFLNK {
		return refuse(p, "it is a symbolic link")
	}
	return refuse(p, "it is %s, not a regular file", kind(mode))
}

// checkOwnerMode refuses an owner outside owners and any group/other write bit;
// sshd's StrictModes ignores keys under such paths anyway (sshd(8)).
func checkOwnerMode(p string, st *unix.Stat_t, owners ...int) error {
	ok := false
	for _, o := range owners {
		if o >= 0 && int(st.Uid) == o {
			ok = true
		}
	}
	if !ok {
		return refuse(p, "it is owned by uid %d, want one of %v", st.Uid, owners)
	}
	return checkMode(p, st)
}

// checkMode refuses any group/other write bit.
func checkMode(p string, st *unix.Stat_t) error {
	if st.Mode&0o022 != 0 {
		return refuse(p, "it is writable by group or others (mode %#o)", st.Mode&0o7777)
	}
	return nil
}

// trustedOwners are the owners of directories we accept in the admin's domain.
func trustedOwners() []int { return []int{0, os.Geteuid()} }

// isEmptyDir reports whether the directory open at fd holds no entries, through a
// fresh open file description so the caller's fd offset is not disturbed.
func isEmptyDir(fd int) (bool, error) {
	names, err := readNames(fd)
	return len(names) == 0, err
}

// readNames lists the entries of the directory open at fd.
func readNames(fd int) ([]string, error) {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dfd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// retryEINTR repeats a system call interrupted by a signal (Go's runtime sends
// SIGURG for preemption, and Go's own os package retries the same way).
func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
