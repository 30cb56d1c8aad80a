package filestamp

import "time"

// Set is the files and directories one result was computed from, each with
// the stamp it had then. The methods accept a nil *Set and then record
// nothing, so code that records its reads also runs without a Set.
type Set struct {
	entries []entry
	unsure  bool // a stamp was not settled when it was taken
}

type entry struct {
	path   string
	follow bool // stat, not lstat
	stamp  Stamp
}

// Add records that path had stamp s when it was read; follow tells whether
// s came from stat (or from an open descriptor, which follows symbolic
// links) rather than lstat.
func (set *Set) Add(path string, follow bool, s Stamp) {
	if set == nil {
		return
	}
	if !s.Settled(time.Now()) {
		set.unsure = true
	}
	for _, e := range set.entries {
		// Parsing sshd's files looks at some paths more than once, with
		// stat and with lstat; for anything but a symbolic link both give
		// the same stamp, and one check of it will do.
		if e.path == path && e.stamp == s && (e.follow == follow || !s.IsSymlink()) {
			return
		}
	}
	set.entries = append(set.entries, entry{path, follow, s})
}

// Stat stats path, following symbolic links, records and returns its stamp.
func (set *Set) Stat(path string) Stamp {
	s := Stat(path)
	set.Add(path, true, s)
	return s
}

// Lstat lstats path, records and returns its stamp.
func (set *Set) Lstat(path string) Stamp {
	s := Lstat(path)
	set.Add(path, false, s)
	return s
}

// Trusted reports whether every stamp recorded was settled when taken.
func (set *Set) Trusted() bool { return set != nil && !set.unsure }

// Unchanged reports whether every recorded path still has the stamp it had,
// each stamp being settled when taken: then a result computed from them
// would be computed again the same. A nil or empty Set is never unchanged.
func (set *Set) Unchanged() bool {
	if set == nil || set.unsure || len(set.entries) == 0 {
		return false
	}
	for _, e := range set.entries {
		s := Lstat
		if e.follow {
			s = Stat
		}
		if s(e.path) != e.stamp {
			return false
		}
	}
	return true
}

// Len returns how many stamps are recorded.
func (set *Set) Len() int {
	if set == nil {
		return 0
	}
	return len(set.entries)
}
