package account

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
)

// Files answers Lookup, Groups and ReadPasswords for one root, and keeps
// each answer while the file it came from keeps its stamp (package
// filestamp): the daemon asks the same questions at every poll of files
// that seldom change, and then stats each file instead of reading and
// parsing it. Not safe for concurrent use.
type Files struct {
	root   string
	passwd memo[string, lookupResult]
	group  memo[groupKey, []string]
	shadow memo[string, shadowEntry]
}

type lookupResult struct {
	acct Account
	err  error
}

type groupKey struct {
	name string
	gid  int
}

// NewFiles returns a Files reading the databases under root.
func NewFiles(root string) *Files { return &Files{root: root} }

// Lookup is the package's Lookup.
func (f *Files) Lookup(name string) (Account, error) {
	path := filepath.Join(f.root, "etc/passwd")
	if r, ok := f.passwd.get(path, name); ok {
		return r.acct, r.err
	}
	data, st, err := filestamp.ReadFile(path, maxPasswdSize)
	if err != nil {
		return Account{}, fmt.Errorf("look up user %s: %w", name, err)
	}
	a, err := lookup(data, path, name)
	f.passwd.put(st, name, lookupResult{a, err})
	return a, err
}

// Groups is the package's Groups.
func (f *Files) Groups(a Account) ([]string, error) {
	path := filepath.Join(f.root, "etc/group")
	k := groupKey{a.Name, a.GID}
	if g, ok := f.group.get(path, k); ok {
		return g, nil
	}
	data, st, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	g, err := groups(data, path, a)
	if err == nil {
		f.group.put(st, k, g)
	}
	return g, err
}

// ReadPasswords is the package's ReadPasswords.
func (f *Files) ReadPasswords(names []string) (map[string]Password, error) {
	path := filepath.Join(f.root, "etc/shadow")
	now := time.Now()
	out := map[string]Password{}
	all := true
	for _, n := range names {
		e, ok := f.shadow.get(path, n)
		if !ok {
			all = false
			break
		}
		if e.found {
			out[n] = e.password(now)
		}
	}
	if all {
		return out, nil
	}
	data, st, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	entries, err := parseShadow(data, path, names)
	if err != nil {
		return nil, err
	}
	clear(out)
	for n, e := range entries {
		f.shadow.put(st, n, e)
		if e.found {
			out[n] = e.password(now)
		}
	}
	return out, nil
}

// readOptional reads a database that may be missing: then it is empty,
// which its stamp remembers too.
func readOptional(path string) ([]byte, filestamp.Stamp, error) {
	data, st, err := filestamp.ReadFile(path, maxPasswdSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, st, nil
	}
	if err != nil {
		return nil, st, fmt.Errorf("read %s: %w", path, err)
	}
	return data, st, nil
}

// memo holds the answers read from one file and the stamp it had then.
type memo[K comparable, V any] struct {
	stamp filestamp.Stamp
	vals  map[K]V
}

// get returns the answer for k when one is kept and the file at path
// still has the stamp it was read with; a changed file drops every answer.
func (m *memo[K, V]) get(path string, k K) (V, bool) {
	var zero V
	if len(m.vals) == 0 {
		return zero, false
	}
	if filestamp.Stat(path) != m.stamp {
		m.vals = nil
		return zero, false
	}
	v, ok := m.vals[k]
	return v, ok
}

// put keeps v, read from a file with stamp s, unless s is too recent to be
// trusted (filestamp.Stamp.Settled).
func (m *memo[K, V]) put(s filestamp.Stamp, k K, v V) {
	if !s.Settled(time.Now()) {
		return
	}
	if m.vals == nil || s != m.stamp {
		m.vals, m.stamp = map[K]V{}, s
	}
	m.vals[k] = v
}
