package sshd

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// maxConfigSize bounds every configuration file read; sshd_config files are
// a few kilobytes.
const maxConfigSize = 1 << 20

// source reads configuration files as sshd would see them under root, with
// planned edits laid over the disk so a plan can be parsed before it is written.
type source struct {
	root    string            // "/" or an offline tree
	overlay map[string][]byte // sshd path -> planned content
	removed map[string]bool   // sshd paths planned for removal
	// disk caches what was read from disk, so every parse of one plan sees
	// the same bytes and the writer can tell whether a file changed since.
	disk map[string][]byte
}

func newSource(root string) *source {
	return &source{root: root, overlay: map[string][]byte{}, removed: map[string]bool{}, disk: map[string][]byte{}}
}

// host returns where the sshd path p lives on this machine.
func (s *source) host(p string) string { return filepath.Join(s.root, p) }

func (s *source) set(p string, data []byte) { s.overlay[p] = data; delete(s.removed, p) }

func (s *source) remove(p string) { delete(s.overlay, p); s.removed[p] = true }

func (s *source) read(p string) ([]byte, error) {
	if s.removed[p] {
		return nil, fs.ErrNotExist
	}
	if b, ok := s.overlay[p]; ok {
		return b, nil
	}
	if b, ok := s.disk[p]; ok {
		return b, nil
	}
	b, err := s.readDisk(p)
	if err != nil {
		return nil, err
	}
	s.disk[p] = b
	return b, nil
}

func (s *source) readDisk(p string) ([]byte, error) {
	// O_NONBLOCK so a FIFO planted at a configuration path cannot hang us.
	f, err := os.OpenFile(s.host(p), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, maxConfigSize)
	}
	return b, nil
}

// names lists directory dir with the overlay applied.
func (s *source) names(dir string) []string {
	var out []string
	if ents, err := os.ReadDir(s.host(dir)); err == nil {
		for _, e := range ents {
			out = append(out, e.Name())
		}
	}
	for p := range s.overlay {
		if path.Dir(p) == dir && !slices.Contains(out, path.Base(p)) {
			out = append(out, path.Base(p))
		}
	}
	out = slices.DeleteFunc(out, func(n string) bool { return s.removed[path.Join(dir, n)] })
	slices.Sort(out)
	return out
}

func (s *source) exists(p string) bool {
	if s.removed[p] {
		return false
	}
	if _, ok := s.overlay[p]; ok {
		return true
	}
	_, err := os.Stat(s.host(p))
	return err == nil
}

// glob expands pattern as glob(3) with no flags does for sshd: sorted
// bytewise (sshd runs in the C locale), and a wildcard never matches a
// leading dot.
func (s *source) glob(pattern string) []string {
	if !strings.HasPrefix(pattern, "/") {
		return nil // "~..." is not expanded by sshd's glob call either
	}
	cur := []string{"/"}
	for _, comp := range strings.Split(strings.Trim(path.Clean(pattern), "/"), "/") {
		var next []string
		for _, dir := range cur {
			if !hasMeta(comp) {
				next = append(next, path.Join(dir, comp))
				continue
			}
			for _, n := range s.names(dir) {
				if matchName(comp, n) {
					next = append(next, path.Join(dir, n))
				}
			}
		}
		cur = next
	}
	return slices.DeleteFunc(cur, func(p string) bool { return !s.exists(p) })
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[\\") }

// matchName matches one path component as glob(3) does.
func matchName(pattern, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") {
		return false
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}
