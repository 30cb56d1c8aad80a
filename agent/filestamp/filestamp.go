package filestamp

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Settle is how old a stamp's ctime must be for the stamp to be trusted:
// more than the coarsest timestamp step of the filesystems a root tree may
// be on (FAT's two seconds; ext4 with small inodes keeps whole seconds).
const Settle = 2 * time.Second

// Stamp identifies one state of a file, or the error that stat gave.
type Stamp struct {
	dev, ino, nlink uint64
	mode, uid, gid  uint32
	size            int64
	mtime, ctime    unix.Timespec
	errno           syscall.Errno // 0 when stat succeeded
}

// FromStat returns the stamp of a stat result.
func FromStat(st *unix.Stat_t) Stamp {
	return Stamp{dev: st.Dev, ino: st.Ino, nlink: uint64(st.Nlink), mode: st.Mode, uid: st.Uid, gid: st.Gid,
		size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// FromFileInfo returns the stamp of fi, which os.Stat, os.Lstat or
// (*os.File).Stat returned; ok is false when fi carries no stat result.
func FromFileInfo(fi fs.FileInfo) (s Stamp, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stamp{}, false
	}
	return Stamp{dev: st.Dev, ino: st.Ino, nlink: uint64(st.Nlink), mode: st.Mode, uid: st.Uid, gid: st.Gid,
		size: st.Size, mtime: unix.Timespec(st.Mtim), ctime: unix.Timespec(st.Ctim)}, true
}

// FromError returns the stamp of a failed stat or open: its errno, or a
// stamp that is never trusted when err carries none.
func FromError(err error) Stamp {
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno == 0 {
		errno = syscall.EIO
	}
	return Stamp{errno: errno}
}

// Stat returns the stamp of the file path names, following symbolic links.
func Stat(path string) Stamp {
	var st unix.Stat_t
	if err := retry(func() error { return unix.Stat(path, &st) }); err != nil {
		return FromError(err)
	}
	return FromStat(&st)
}

// Lstat returns the stamp of path itself, a symbolic link not followed.
func Lstat(path string) Stamp {
	var st unix.Stat_t
	if err := retry(func() error { return unix.Lstat(path, &st) }); err != nil {
		return FromError(err)
	}
	return FromStat(&st)
}

// Exists reports whether stat succeeded.
func (s Stamp) Exists() bool { return s.errno == 0 }

// IsSymlink reports whether lstat succeeded on a symbolic link.
func (s Stamp) IsSymlink() bool { return s.errno == 0 && s.mode&unix.S_IFMT == unix.S_IFLNK }

// IsDir reports whether stat succeeded on a directory.
func (s Stamp) IsDir() bool { return s.errno == 0 && s.mode&unix.S_IFMT == unix.S_IFDIR }

// Settled reports whether s can be trusted to change with the file: stat
// succeeded and the ctime is at least Settle before now, or the file does
// not exist (creating it makes stat succeed). A ctime in the future (the
// clock was set back) is not settled.
func (s Stamp) Settled(now time.Time) bool {
	switch s.errno {
	case 0:
		return now.Sub(time.Unix(s.ctime.Unix())) >= Settle
	case syscall.ENOENT, syscall.ENOTDIR:
		return true
	}
	return false
}

// ReadFile reads at most limit bytes of the file at path (a longer file is
// cut, as io.LimitReader cuts it) and returns them with the file's stamp,
// taken from the open descriptor before reading: a write during the read
// then changes the stamp the next Stat sees.
func ReadFile(path string, limit int64) ([]byte, Stamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, FromError(err), err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, FromError(err), err
	}
	s, _ := FromFileInfo(fi)
	// bytes.Buffer reads in steps of at least bytes.MinRead: room for the
	// size fstat gave and one more step reads the file and its end with
	// no growth.
	b := bytes.NewBuffer(make([]byte, 0, min(limit, max(fi.Size(), 0))+bytes.MinRead))
	if _, err := b.ReadFrom(io.LimitReader(f, limit)); err != nil {
		return nil, s, err
	}
	return b.Bytes(), s, nil
}

func retry(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
