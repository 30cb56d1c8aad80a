package service

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/fsnotify/fsnotify"
)

// driftWatcher watches, for each file, its directory and the directory above
// (a user's ~/.ssh and home), so that a deleted and recreated ~/.ssh is seen
// and watched again. inotify drops a watch when its directory goes; refresh
// adds it back once the directory exists again.
type driftWatcher struct {
	w     *fsnotify.Watcher
	files map[string]bool // the files themselves
	dirs  map[string]bool // each file's directory: events on it matter too
	want  map[string]bool // directories to watch: dirs and their parents
}

func newDriftWatcher() (*driftWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &driftWatcher{w: w}, nil
}

// set replaces the watched files and refreshes the watches.
func (d *driftWatcher) set(files []string) error {
	if d.same(files) {
		return d.refresh() // every poll asks for the same files: keep the maps
	}
	d.files, d.dirs, d.want = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, f := range files {
		f = filepath.Clean(f)
		dir := filepath.Dir(f)
		d.files[f], d.dirs[dir] = true, true
		d.want[dir], d.want[filepath.Dir(dir)] = true, true
	}
	for _, p := range d.w.WatchList() {
		if !d.want[p] {
			d.w.Remove(p) //nolint:errcheck // gone already is fine
		}
	}
	return d.refresh()
}

// same reports whether files are the watched files, as set made them.
func (d *driftWatcher) same(files []string) bool {
	if d.files == nil {
		return false
	}
	for _, f := range files {
		if !d.files[filepath.Clean(f)] {
			return false
		}
	}
	for f := range d.files {
		if !slices.ContainsFunc(files, func(g string) bool { return filepath.Clean(g) == f }) {
			return false
		}
	}
	return true
}

// refresh adds a watch on every wanted directory that exists. Adding one
// that is watched already changes nothing.
func (d *driftWatcher) refresh() error {
	// Only the missing ones: fsnotify drops a watch whose directory went
	// away, and re-adding the others every poll cost 7 % of an idle poll's
	// CPU.
	have := map[string]bool{}
	for _, p := range d.w.WatchList() {
		have[p] = true
	}
	var errs []error
	for p := range d.want {
		if have[p] {
			continue
		}
		if err := d.w.Add(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// relevant reports whether ev touches a watched file or its directory; events
// on a user's other files (~/.bashrc, ~/.ssh/id_ed25519, our own temporary
// files before the rename) do not matter.
func (d *driftWatcher) relevant(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	return d.files[name] || d.dirs[name]
}

func (d *driftWatcher) close() error { return d.w.Close() }
