package securefs

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Path returns the display path, as the user knows it (for example /home/alice/.ssh).
func (d *Dir) Path() string { return d.path }

// Close releases the directory's fd.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	if err != nil {
		return fmt.Errorf("close %s: %w", d.path, err)
	}
	return nil
}

// Subdir opens the child directory name without following symlinks. If it is missing
// and create is set, it is made with mode 0700 and owned by uid:gid, set through its
// fd. It refuses a symlink, a non-directory, an owner other than uid or root, and group
// or other write bits.
func (d *Dir) Subdir(name string, create bool, uid, gid int) (*Dir, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, err
	}
	p := join(d.path, name)
	var fd int
	var err error
	if create {
		var made bool
		fd, made, err = mkdirOpenNew(d.fd, name, p, 0o700, uid, gid)
		if err == nil && made && name == ".ssh" {
			if err = labelSSHDir(d.label, d.fd, fd); err != nil {
				err = fmt.Errorf("%s: %w", p, err)
				unix.Close(fd)
			}
		}
	} else {
		fd, err = openDir(d.fd, name, p)
	}
	if err != nil {
		return nil, err
	}
	if err := checkFD(fd, p, uid, 0); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Dir{fd: fd, path: p, label: d.label}, nil
}

// Lstat describes the child name without following a symlink.
func (d *Dir) Lstat(name string) (Stat, error) {
	if err := checkName(d.path, name); err != nil {
		return Stat{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return Stat{}, fmt.Errorf("stat %s: %w", join(d.path, name), err)
	}
	return statFromUnix(&st), nil
}

// ReadFile reads the regular file name, owned by wantUID or root, not writable by
// group or others, with one link and at most max bytes. A missing file returns an
// error satisfying errors.Is(err, fs.ErrNotExist) (unix.ENOENT does).
func (d *Dir) ReadFile(name string, max int64, wantUID int) ([]byte, Stat, error) {
	if err := checkName(d.path, name); err != nil {
		return nil, Stat{}, err
	}
	p := join(d.path, name)
	if max < 0 {
		return nil, Stat{}, fmt.Errorf("read %s: negative size limit %d", p, max)
	}
	// Look before opening: opening a device can have side effects, and a FIFO
	// must not even be opened. O_NONBLOCK below covers a swap after this look.
	var before unix.Stat_t
	if err := unix.Fstatat(d.fd, name, &before, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, Stat{}, fmt.Errorf("read %s: %w", p, err)
	}
	if err := checkRegular(p, &before, max, wantUID); err != nil {
		return nil, Stat{}, err
	}
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		return err
	})
	if err == unix.ELOOP {
		return nil, Stat{}, refuse(p, "it is a symbolic link")
	}
	if err != nil {
		return nil, Stat{}, fmt.Errorf("read %s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, Stat{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if err := checkRegular(p, &st, max, wantUID); err != nil {
		return nil, Stat{}, err
	}
	data, err := readBounded(fd, max, st.Size)
	if err != nil {
		return nil, Stat{}, fmt.Errorf("read %s: %w", p, err)
	}
	if int64(len(data)) > max {
		return nil, Stat{}, refuse(p, "it grew beyond %d bytes while being read", max)
	}
	return data, statFromUnix(&st), nil
}

// checkRegular applies ReadFile's rules to one stat result.
func checkRegular(p string, st *unix.Stat_t, max int64, wantUID int) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return notRegular(p, st.Mode)
	}
	// A second link may point at a file the user must not reach through us
	// (the hard-link half of CVE-2011-3870-style attacks).
	if st.Nlink > 1 {
		return refuse(p, "it has %d hard links", st.Nlink)
	}
	if err := checkOwnerMode(p, st, wantUID, 0); err != nil {
		return err
	}
	if st.Size > max {
		return refuse(p, "it is %d bytes, more than the limit of %d", st.Size, max)
	}
	return nil
}

// readBounded reads at most limit+1 bytes, so a file that grows after fstat
// cannot make us allocate without bound.
//
// The buffer starts at the size fstat gave plus one byte, so a file read
// whole takes one allocation and no copy, and the read that finds its end
// needs no larger buffer: a large authorized_keys costs its size in memory
// once, not the two to three times that growing by doubling from 64 KiB did.
func readBounded(fd int, limit, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(limit+1, max(size+1, 512)))
	for int64(len(buf)) <= limit {
		if len(buf) == cap(buf) { // the file grew, or fstat did not know
			buf = slices.Grow(buf, int(min(int64(len(buf)), limit+1-int64(len(buf)))))
		}
		end := min(int64(cap(buf)), limit+1)
		var n int
		err := retryEINTR(func() (err error) {
			n, err = unix.Read(fd, buf[len(buf):end])
			return err
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// Touch sets the modification time of the existing regular file name to t,
// without following a symlink: one system call, where a rewrite takes
// several and an fsync. It refuses anything but a regular file, so a link
// planted in its place is never followed or retimed.
func (d *Dir) Touch(name string, t time.Time) error {
	st, err := d.Lstat(name)
	if err != nil {
		return err
	}
	if !st.Mode.IsRegular() {
		return refuse(join(d.path, name), "it is not a regular file")
	}
	return d.TouchChecked(name, t)
}

// TouchChecked is Touch without its check that name is a regular file, for
// a caller that knows the entry has not changed since a Touch checked it.
// It still never follows a symbolic link (AT_SYMLINK_NOFOLLOW).
func (d *Dir) TouchChecked(name string, t time.Time) error {
	if err := checkName(d.path, name); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	if err := unix.UtimesNanoAt(d.fd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("touch %s: %w", join(d.path, name), err)
	}
	return nil
}
