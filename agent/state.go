package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
)

// maxStateSize bounds the state file `status` reads.
const maxStateSize = 1 << 20

// saveState records r as the last sync's result. A dry run records nothing.
// Failing to save is logged, not fatal: the files themselves are the truth.
//
// The state file on disk is rewritten only when the result differs in more
// than its time, so an idle daemon polling every 30 s writes nothing to disk
// and the disk can sleep; the time of every sync goes to a file under /run (tmpfs).
//
// A sync that did not reach the metadata service (or the lock) leaves the
// state file alone: it still shows the last good state, and the failure
// goes to FailurePath beside it, so `status` can show both, and the
// password contract survives an outage.
func (e *Engine) saveState(r *Report) {
	if e.opts.DryRun {
		return
	}
	var lastAttempt time.Time
	if !r.Reached() {
		lastAttempt = LastSync(e.opts.Root) // before this sync's time replaces it
	}
	if err := e.writeLastSync(r.Time); err != nil {
		e.opts.Logger.Warn("last sync time not saved", zap.Error(err))
	}
	if !r.Reached() {
		e.previous()
		if e.failing == nil && !lastAttempt.IsZero() {
			e.lastSuccess = lastAttempt // the attempt before this one reached metadata
		}
		if err := e.recordFailure(r); err != nil {
			e.opts.Logger.Warn("failure not recorded", zap.Error(err))
		}
		return
	}
	if e.failing != nil {
		if err := removeFailure(e.opts.Root); err != nil {
			e.opts.Logger.Warn("failure record not removed", zap.Error(err))
		} else {
			e.failing = nil
		}
	}
	result := resultJSON(r)
	if prev := e.previous(); prev != nil {
		if e.lastJSON == nil {
			e.lastJSON = resultJSON(prev)
		}
		if result != nil && bytes.Equal(result, e.lastJSON) {
			return
		}
	}
	if err := writeState(e.opts.Root, r); err != nil {
		e.opts.Logger.Warn("state not saved", zap.Error(err))
		return
	}
	e.last, e.lastJSON = r, result
}

// previous returns the last recorded result: this engine's, or the state
// file's for the first sync of a process.
func (e *Engine) previous() *Report {
	if e.last == nil {
		e.last, _ = LoadState(e.opts.Root)
		e.lastJSON = nil
		e.failing, _ = LoadFailure(e.opts.Root)
	}
	return e.last
}

// Failure is the run of syncs that did not reach the metadata service
// since the last one that did.
type Failure struct {
	Since    time.Time `json:"since"`    // the first of them
	Last     time.Time `json:"last"`     // the latest
	Attempts int       `json:"attempts"` // how many
	Error    string    `json:"error"`    // the latest one's
	// LastSuccess is when the last sync before them reached metadata.
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// recordFailure adds r to the failure record under /run.
func (e *Engine) recordFailure(r *Report) error {
	e.previous()
	f := Failure{Since: r.Time, Last: r.Time, Attempts: 1, Error: r.Error, LastSuccess: e.lastSuccess}
	if e.failing != nil {
		f.Since, f.Attempts, f.LastSuccess = e.failing.Since, e.failing.Attempts+1, e.failing.LastSuccess
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	dir, err := securefs.OpenSystemDir(e.opts.Root, filepath.Dir(FailurePath), true)
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := writeClean(dir, filepath.Base(FailurePath), append(data, '\n')); err != nil {
		return err
	}
	e.failing = &f
	return nil
}

func removeFailure(root string) error {
	dir, err := securefs.OpenSystemDir(root, filepath.Dir(FailurePath), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Remove(filepath.Base(FailurePath))
}

// LoadFailure returns the failure record under root, or nil when the last
// sync reached the metadata service.
func LoadFailure(root string) (*Failure, error) {
	if root == "" {
		root = "/"
	}
	dir, err := securefs.OpenSystemDir(root, filepath.Dir(FailurePath), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	data, _, err := dir.ReadFile(filepath.Base(FailurePath), maxStateSize, os.Geteuid())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", FailurePath, err)
	}
	var f Failure
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode %s: %w", FailurePath, err)
	}
	return &f, nil
}

// resultJSON is r without its time, as JSON: two reports whose resultJSON
// is equal differ only in their time. nil when r cannot be encoded.
func resultJSON(r *Report) []byte {
	c := *r
	c.Time = time.Time{}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil
	}
	return b
}

func writeState(root string, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir, err := openStateDir(root)
	if err != nil {
		return err
	}
	defer dir.Close()
	return writeClean(dir, StateFile, append(data, '\n'))
}

// writeLastSync records when the last sync ran, under /run.
func writeLastSync(root string, t time.Time) error {
	dir, err := securefs.OpenSystemDir(root, filepath.Dir(LastSyncPath), true)
	if err != nil {
		return err
	}
	defer dir.Close()
	return touchLastSync(dir, t)
}

// writeLastSync is writeLastSync(e.opts.Root, t) through a descriptor of
// the directory kept open between syncs while the root and every
// directory below it to LastSyncPath keep their stamps (package
// filestamp): an idle poll then stats three paths instead of walking and
// checking them again with securefs.
func (e *Engine) writeLastSync(t time.Time) error {
	if e.runDir != nil && !e.runDeps.Unchanged() {
		e.runDir.Close()
		e.runDir, e.runTouched = nil, false
	}
	if e.runDir == nil {
		deps := e.stampPath(filepath.Dir(LastSyncPath)) // before opening: a swap after it changes them
		dir, err := securefs.OpenSystemDir(e.opts.Root, filepath.Dir(LastSyncPath), true)
		if err != nil {
			return err
		}
		if deps == nil || !deps.Trusted() {
			defer dir.Close()
			return touchLastSync(dir, t)
		}
		e.runDir, e.runDeps = dir, deps
	}
	if e.runTouched {
		// The directory kept every stamp, so no entry in it was added,
		// removed or replaced: the file checked at the first touch is still
		// the one there.
		return e.runDir.TouchChecked(filepath.Base(LastSyncPath), t)
	}
	if err := touchLastSync(e.runDir, t); err != nil {
		return err
	}
	e.runTouched = true
	return nil
}

// stampPath stamps the root (following a link, as securefs opens it) and
// each component of the absolute path p below it (not following one:
// securefs refuses links there). nil when a component is missing or a link.
func (e *Engine) stampPath(p string) *filestamp.Set {
	root := e.opts.Root
	if root == "" {
		root = "/"
	}
	deps := &filestamp.Set{}
	if !deps.Stat(root).IsDir() {
		return nil
	}
	cur := root
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		cur = filepath.Join(cur, c)
		if st := deps.Lstat(cur); !st.Exists() || st.IsSymlink() {
			return nil
		}
	}
	return deps
}

// touchLastSync sets the last-sync file's time in dir, creating it.
func touchLastSync(dir *securefs.Dir, t time.Time) error {
	// The time is the file's mtime: an idle daemon records every poll, and
	// a touch is one system call where a rewrite costs an fsync.
	name := filepath.Base(LastSyncPath)
	err := dir.Touch(name, t)
	if errors.Is(err, fs.ErrNotExist) {
		if err = writeClean(dir, name, nil); err == nil {
			err = dir.Touch(name, t)
		}
	}
	return err
}

// writeClean replaces one of the agent's own files, first removing the
// temporary files a sync killed mid-write left for it (found by
// agent/reliability's SIGKILL test: they piled up under /run and
// /var/lib/ecs-keyagent).
func writeClean(dir *securefs.Dir, name string, data []byte) error {
	if _, err := dir.CleanTemp(name); err != nil {
		return fmt.Errorf("clean temporary files in %s: %w", dir.Path(), err)
	}
	return dir.WriteFile(name, data, 0o644, os.Geteuid(), os.Getegid())
}

// LastSync returns when the last sync ran (any sync, also one whose result
// equalled the one before), or the zero time if unknown.
func LastSync(root string) time.Time {
	dir, err := securefs.OpenSystemDir(root, filepath.Dir(LastSyncPath), false)
	if err != nil {
		return time.Time{}
	}
	defer dir.Close()
	st, err := dir.Lstat(filepath.Base(LastSyncPath))
	if err != nil || !st.Mode.IsRegular() {
		return time.Time{}
	}
	return st.ModTime
}

// openStateDir opens the state directory, creating it and any missing
// parent (a scratch --root tree may have no /var/lib) root-owned 0755.
func openStateDir(root string) (*securefs.Dir, error) {
	var dir *securefs.Dir
	prefix := ""
	for _, part := range strings.Split(strings.Trim(StateDir, "/"), "/") {
		prefix += "/" + part
		if dir != nil {
			dir.Close()
		}
		var err error
		if dir, err = securefs.OpenSystemDir(root, prefix, true); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

// LoadState returns the last sync's report from the state file under root.
func LoadState(root string) (*Report, error) {
	if root == "" {
		root = "/"
	}
	dir, err := securefs.OpenSystemDir(root, StateDir, false)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	defer dir.Close()
	data, _, err := dir.ReadFile(StateFile, maxStateSize, os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", filepath.Join(StateDir, StateFile), err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode state %s: %w", filepath.Join(StateDir, StateFile), err)
	}
	return &r, nil
}
