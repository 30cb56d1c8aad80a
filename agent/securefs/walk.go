package securefs

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// walker resolves a path below a root fd one component at a time, keeping the fd of
// every directory it passed so that ".." (from a symlink target) never leaves the root
// and never re-resolves anything by path.
type walker struct {
	rootfd int
	follow bool // follow symlinks held by trusted directories
	// anyOwnerAbove accepts any owner for the directories before the last
	// component (OpenOutputDir); they must still not be group or other writable.
	anyOwnerAbove bool
	stack         []int    // fds below the root, innermost last
	names         []string // their names, for messages
}

func (w *walker) cur() int {
	if len(w.stack) == 0 {
		return w.rootfd
	}
	return w.stack[len(w.stack)-1]
}

func (w *walker) display() string { return "/" + strings.Join(w.names, "/") }

func (w *walker) pop() {
	if n := len(w.stack); n > 0 {
		unix.Close(w.stack[n-1])
		w.stack, w.names = w.stack[:n-1], w.names[:n-1]
	}
}

func (w *walker) closeAll() {
	for len(w.stack) > 0 {
		w.pop()
	}
}

// walk resolves comps and returns an fd of the directory reached, which the caller
// closes. Every directory reached must be trusted. With createLast, a missing final
// component of comps is made 0755, owned by root when we are root.
func (w *walker) walk(comps []string, createLast bool) (int, error) {
	defer w.closeAll()
	queue := append([]string(nil), comps...)
	fromLink := 0 // how many leading queue entries came from a symlink target
	links := 0
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		viaLink := fromLink > 0
		if viaLink {
			fromLink--
		}
		switch c {
		case "", ".":
			continue
		case "..":
			w.pop()
			continue
		}
		p := join(w.display(), c)
		var fd int
		var err error
		if createLast && len(queue) == 0 && !viaLink {
			// Root-owned when we are root; otherwise leave the owner alone (-1).
			owner := -1
			if os.Geteuid() == 0 {
				owner = 0
			}
			fd, err = mkdirOpen(w.cur(), c, p, 0o755, owner, owner)
		} else {
			fd, err = openDir(w.cur(), c, p)
		}
		if err != nil {
			target, ok, lerr := w.readLink(c, p, err)
			if !ok {
				return -1, lerr
			}
			if links++; links > maxSymlinks {
				return -1, refuse(p, "too many levels of symbolic links")
			}
			if strings.HasPrefix(target, "/") {
				w.closeAll()
			}
			tc := strings.Split(target, "/")
			fromLink = len(tc)
			queue = append(tc, queue...)
			continue
		}
		check := func() error { return checkFD(fd, p, trustedOwners()...) }
		if w.anyOwnerAbove && len(queue) > 0 {
			check = func() error {
				var st unix.Stat_t
				if err := unix.Fstat(fd, &st); err != nil {
					return fmt.Errorf("stat %s: %w", p, err)
				}
				return checkMode(p, &st)
			}
		}
		if err := check(); err != nil {
			unix.Close(fd)
			return -1, err
		}
		w.stack, w.names = append(w.stack, fd), append(w.names, c)
	}
	if n := len(w.stack); n > 0 {
		fd := w.stack[n-1]
		w.stack, w.names = w.stack[:n-1], w.names[:n-1]
		return fd, nil
	}
	fd, err := unix.FcntlInt(uintptr(w.rootfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup root: %w", err)
	}
	return fd, nil
}

// readLink decides whether the failed open of c was a symlink we may follow: only
// when following is on and the link belongs to root or the euid. The directory that
// holds it has already been checked as trusted, so nobody else could have made it.
// It returns the open error unchanged when c is anything else.
func (w *walker) readLink(c, p string, openErr error) (string, bool, error) {
	if !w.follow || !isUnsafe(openErr) {
		return "", false, openErr
	}
	var st unix.Stat_t
	if err := unix.Fstatat(w.cur(), c, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return "", false, fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", false, openErr
	}
	if int(st.Uid) != 0 && int(st.Uid) != os.Geteuid() {
		return "", false, refuse(p, "it is a symbolic link owned by uid %d", st.Uid)
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(w.cur(), c, buf)
	if err != nil {
		return "", false, fmt.Errorf("read link %s: %w", p, err)
	}
	if n >= len(buf) {
		return "", false, refuse(p, "its symbolic link target is too long")
	}
	return string(buf[:n]), true, nil
}

func isUnsafe(err error) bool {
	_, ok := err.(*unsafeError)
	return ok
}
