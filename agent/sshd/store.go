package sshd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
)

// store reads and replaces configuration files through securefs: no
// symlink below root is followed, writes are atomic and keep mode and owner.
type store struct {
	root string // the filesystem root in use; paths are as sshd sees them
	// trust is the directory below which securefs checks every component:
	// root in production, a test's temporary directory under "/" in tests
	// (t.TempDir lives below the world-writable /tmp, which securefs refuses).
	trust string
}

// fileState is what a file was before we touched it, to restore it exactly.
type fileState struct {
	path   string
	exists bool
	data   []byte
	mode   fs.FileMode
	uid    int
	gid    int
}

func (s store) split(p string) (dir, name string, err error) {
	rel := path.Join(s.root, p)
	if s.trust != "/" {
		if !strings.HasPrefix(rel, s.trust+"/") {
			return "", "", fmt.Errorf("open %s: outside %s", rel, s.trust)
		}
		rel = strings.TrimPrefix(rel, s.trust)
	}
	return path.Dir(rel), path.Base(rel), nil
}

// load returns the current state of p; a missing file is not an error.
func (s store) load(p string) (fileState, error) {
	dir, name, err := s.split(p)
	if err != nil {
		return fileState{}, err
	}
	d, err := securefs.OpenSystemDir(s.trust, dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{path: p}, nil
	}
	if err != nil {
		return fileState{}, err
	}
	defer d.Close()
	// Root's, or the euid's: the owners securefs trusts for directories,
	// the same thing under the root the agent runs as.
	data, st, err := d.ReadFile(name, maxConfigSize, os.Geteuid())
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{path: p}, nil
	}
	if err != nil {
		return fileState{}, err
	}
	return fileState{path: p, exists: true, data: data, mode: st.Mode.Perm(), uid: st.UID, gid: st.GID}, nil
}

// save makes p hold f: written atomically, or removed when !f.exists.
func (s store) save(f fileState) error {
	dir, name, err := s.split(f.path)
	if err != nil {
		return err
	}
	d, err := securefs.OpenSystemDir(s.trust, dir, f.exists)
	if !f.exists && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	// A sync killed mid-write leaves its temporary file; without this, one
	// would stay in /etc/ssh for good (found by agent/reliability).
	if _, err := d.CleanTemp(name); err != nil {
		return fmt.Errorf("clean temporary files in %s: %w", d.Path(), err)
	}
	if !f.exists {
		return d.Remove(name)
	}
	return d.WriteFile(name, f.data, f.mode, f.uid, f.gid)
}
