package sshd

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
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
	// deps, when not nil, records the stamp of every file read, directory
	// listed and path looked at: what a parse's result depends on.
	deps *filestamp.Set
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
		s.deps.Add(s.host(p), true, filestamp.FromError(err))
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.deps.Add(s.host(p), true, filestamp.FromError(err))
		return nil, err
	}
	if stamp, ok := filestamp.FromFileInfo(st); ok {
		s.deps.Add(s.host(p), true, stamp) // taken before the read: a write during it changes the stamp
	} else {
		s.deps.Add(s.host(p), true, filestamp.FromError(nil))
	}
	if !st.Mode().IsRegular() {
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
	if s.deps != nil {
		s.deps.Stat(s.host(dir)) // before listing: a name added later changes the directory's stamp
	}
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
	return s.stat(p).Exists()
}

// stat and lstat stamp the sshd path p, recording the stamp in s.deps.
func (s *source) stat(p string) filestamp.Stamp {
	st := filestamp.Stat(s.host(p))
	s.deps.Add(s.host(p), true, st)
	return st
}

func (s *source) lstat(p string) filestamp.Stamp {
	st := filestamp.Lstat(s.host(p))
	s.deps.Add(s.host(p), false, st)
	return st
}

// glob expands pattern as glob(3) with no flags does for sshd: sorted
// bytewise (sshd runs in the C locale), '*', '?', bracket expressions
// ('!' or '^' negates) and backslash escapes, a wildcard never matches a
// leading dot, and a trailing slash matches only directories. A dangling
// symbolic link is a match, which sshd then fails to open.
func (s *source) glob(pattern string) []string {
	if !strings.HasPrefix(pattern, "/") {
		return nil // "~..." is not expanded by sshd's glob call either
	}
	dirOnly := len(pattern) > 1 && strings.HasSuffix(pattern, "/")
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
	return slices.DeleteFunc(cur, func(p string) bool { return !s.lexists(p) || dirOnly && !s.isDir(p) })
}

// lexists is exists without following a final symbolic link (lstat).
func (s *source) lexists(p string) bool {
	if s.removed[p] {
		return false
	}
	if _, ok := s.overlay[p]; ok {
		return true
	}
	return s.lstat(p).Exists()
}

func (s *source) isDir(p string) bool {
	if _, ok := s.overlay[p]; ok || s.removed[p] {
		return false
	}
	return s.stat(p).IsDir()
}

// readIncluded reads a file an Include names. sshd reads a directory as an
// empty file: fopen succeeds and the first read fails.
func (s *source) readIncluded(p string) ([]byte, error) {
	if s.isDir(p) {
		return nil, nil
	}
	return s.read(p)
}

func hasMeta(s string) bool { return strings.ContainsAny(s, "*?[\\") }

// matchName matches one path component as glob(3) does (fnmatch with
// FNM_PERIOD): a leading dot must be matched by a leading dot.
func matchName(pattern, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") {
		return false
	}
	return fnmatch(pattern, name)
}

// fnmatch matches name against a shell pattern, byte by byte as in the C
// locale. A '[' without its ']' is an ordinary character.
func fnmatch(p, n string) bool {
	// One backtrack point, at the last '*': every other element matches
	// exactly one byte, so this is complete and linear in practice.
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(n) {
		if pi < len(p) {
			if p[pi] == '*' {
				star, mark = pi, ni
				pi++
				continue
			}
			if w, ok := element(p[pi:], n[ni]); ok {
				pi += w
				ni++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, ni = star+1, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// element matches the pattern element at the start of p (not '*') against
// c, returning its width.
func element(p string, c byte) (int, bool) {
	switch p[0] {
	case '?':
		return 1, true
	case '\\':
		if len(p) > 1 {
			return 2, p[1] == c
		}
		return 1, c == '\\'
	case '[':
		if w, ok, valid := bracket(p, c); valid {
			return w, ok
		}
	}
	return 1, p[0] == c
}

// bracket matches a bracket expression at the start of p against c; valid
// is false when it has no closing ']'.
func bracket(p string, c byte) (w int, ok, valid bool) {
	i := 1
	neg := i < len(p) && (p[i] == '!' || p[i] == '^')
	if neg {
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return i + 1, ok != neg, true
		}
		first = false
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			if hi == '\\' && i+2 < len(p) {
				i++
				hi = p[i+1]
			}
			i += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
	}
	return 0, false, false
}

// service looks a TCP service name up in the services database under the
// tree's root, as getservbyname(name, "tcp") does with files.
func (s *source) service(name string) (int, bool) {
	b, err := os.ReadFile(s.host("/etc/services"))
	if err != nil || name == "" {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) < 2 || !slices.Contains(append(f[:1:1], f[2:]...), name) {
			continue
		}
		port, proto, _ := strings.Cut(f[1], "/")
		if p, err := strconv.Atoi(port); err == nil && proto == "tcp" && p >= 0 && p < 65536 {
			return p, true
		}
	}
	return 0, false
}

// home is the home directory sshd's tilde_expand_filename uses: the
// user's, or for "" root's (sshd runs as uid 0), from the tree's passwd.
func (s *source) home(user string) (string, error) {
	if user != "" {
		a, err := account.Lookup(s.root, user)
		return a.Home, err
	}
	all, err := account.List(s.root)
	if err != nil {
		return "", err
	}
	for _, a := range all {
		if a.UID == 0 {
			return a.Home, nil
		}
	}
	return "", fmt.Errorf("no user with uid 0 in %s", s.host("/etc/passwd"))
}

// expandTildes expands a leading ~ or ~user in each argument as sshd does
// when it reads AuthorizedKeysFile (tilde_expand_filename with its own uid):
// "~/x" is root's home, not the logging-in user's. A failed lookup is
// passed to fail, which sshd treats as fatal, and the argument kept.
func expandTildes(src *source, args []string, fail func(error)) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if !strings.HasPrefix(a, "~") {
			continue
		}
		user, rest, _ := strings.Cut(a[1:], "/")
		rest = strings.TrimLeft(rest, "/")
		home, err := src.home(user)
		if err != nil {
			fail(fmt.Errorf("expand %s: %w", a, err))
			continue
		}
		if !strings.HasSuffix(home, "/") {
			home += "/"
		}
		out[i] = home + rest
	}
	return out
}
