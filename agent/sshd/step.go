package sshd

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Report is what one sshd step found and did, as the agent's report and
// state file carry it.
type Report struct {
	Method    string       `json:"method,omitempty"` // drop-in, marked block, or none
	Changed   []string     `json:"changed,omitempty"`
	Reloaded  bool         `json:"reloaded"`
	Reload    string       `json:"reload,omitempty"`
	CheckedBy string       `json:"checked_by,omitempty"`
	Skipped   string       `json:"skipped,omitempty"` // why password logon was left alone
	Users     []UserReport `json:"users,omitempty"`
	Warnings  []string     `json:"warnings,omitempty"`
	Error     string       `json:"error,omitempty"`
	// ReloadPending: the configuration was written but sshd not reloaded;
	// the next step reloads even if it writes nothing.
	ReloadPending bool `json:"reload_pending,omitempty"`
}

// UserReport holds the effective password settings for one user.
type UserReport struct {
	User                         string `json:"user"`
	PasswordAuthentication       string `json:"passwordauthentication"`
	KbdInteractiveAuthentication string `json:"kbdinteractiveauthentication"`
}

// Target is a user the step must not lock out, with what the keys step
// left in their ~/.ssh/authorized_keys.
type Target struct {
	User   string
	Home   string // from passwd; "" when the lookup failed
	UID    int
	Usable int // keys sshd can use in the file
}

// Request is one sshd step.
type Request struct {
	Options    // Users are filled in from Targets
	Targets    []Target
	DryRun     bool // inspect and report, write nothing
	KeysFailed bool // the keys step failed: passwords stay as they are
	// ReloadPending: the last step wrote but could not reload sshd; reload
	// this time even if nothing is written.
	ReloadPending bool
}

// Step runs the sshd step and remembers its last result, so that a poll
// that changes nothing does not run sshd -T again (see Fingerprint). The
// zero value is ready; calls must not overlap (the agent's lock serialises
// them).
type Step struct {
	key     string // fingerprint of the last cached step
	cached  Report
	managed string // the sshd file holding the agent's settings, as sshd sees it
}

// Run converges sshd for req. Password logon is turned off only when every
// target user has a usable key in a file sshd reads; otherwise sshd is left
// exactly as it is, and Report.Skipped says why. A failure is in
// Report.Error and returned.
func (s *Step) Run(ctx context.Context, req Request) (*Report, error) {
	o := req.Options
	o.Users = nil
	for _, t := range req.Targets {
		o.Users = append(o.Users, t.User)
	}
	if skip := absent(o); skip != "" {
		return &Report{Skipped: skip}, nil
	}
	disable := o.Password == Disable || o.KbdInteractive == Disable
	why := ""
	switch {
	case req.DryRun:
		why = "dry run"
	case disable:
		why = unsafeReason(req)
	}
	key := ""
	if fp, err := Fingerprint(o); err == nil && !req.ReloadPending {
		key = fp + "\n" + why
		if s.key == key {
			rep := s.cached
			rep.Changed, rep.Reloaded, rep.Reload = nil, false, "nothing changed"
			return &rep, nil
		}
	}
	res, skipped, err := s.run(ctx, o, why, req)
	rep := &Report{Skipped: skipped, Method: res.Method, Changed: res.Changed, Reloaded: res.Reloaded,
		Reload: res.Reload, CheckedBy: res.CheckedBy, Warnings: res.Warnings}
	for _, u := range res.Users {
		rep.Users = append(rep.Users, UserReport{User: u.User,
			PasswordAuthentication: u.PasswordAuthentication, KbdInteractiveAuthentication: u.KbdInteractiveAuthentication})
	}
	log := o.logger()
	for _, w := range res.Warnings {
		log.Warn("sshd warning", zap.String("warning", w))
	}
	s.key = ""
	if err != nil {
		rep.ReloadPending = errors.Is(err, ErrReload)
		rep.Error = err.Error()
		return rep, err
	}
	if skipped != "" && disable && !req.DryRun {
		log.Warn("password logon left as it is", zap.String("reason", skipped))
	}
	if res.Managed != "" || skipped == "" {
		s.managed = res.Managed // "" after keep: nothing of ours to watch
	}
	if key != "" && len(rep.Changed) == 0 {
		s.key, s.cached = key, *rep // what we wrote changes the fingerprint: take it next time
	}
	return rep, nil
}

// Managed returns the sshd file holding the agent's settings (its drop-in,
// or the main file it edits), as sshd sees it, for drift repair; "" before
// the first step that applied, and after one that removed them.
func (s *Step) Managed() string { return s.managed }

// run inspects, or applies when it is safe. Before turning password logon
// off it checks with sshd itself that every target's keys are in a file
// sshd reads: an AuthorizedKeysFile pointing elsewhere would lock them out.
func (s *Step) run(ctx context.Context, o Options, why string, req Request) (Result, string, error) {
	if why != "" {
		res, err := Inspect(ctx, o)
		return res, why, err
	}
	if o.Password == Disable || o.KbdInteractive == Disable {
		res, err := Inspect(ctx, o)
		if err != nil {
			return res, "", err
		}
		if why := unreadKeys(res.Users, req.Targets); why != "" {
			return res, why, nil
		}
	}
	o.RetryReload = req.ReloadPending
	res, err := Apply(ctx, o)
	return res, "", err
}

// Restore removes what the agent wrote to sshd's configuration, restoring
// the earlier bytes, checks the result with sshd -t and reloads sshd when it
// runs: both modes keep. Report.Skipped is set when there is no sshd
// configuration to restore.
func Restore(ctx context.Context, o Options) (*Report, error) {
	o.Password, o.KbdInteractive, o.Users = Keep, Keep, nil
	if skip := absent(o); skip != "" {
		return &Report{Skipped: skip}, nil
	}
	res, err := Apply(ctx, o)
	rep := &Report{Method: res.Method, Changed: res.Changed, Reloaded: res.Reloaded, Reload: res.Reload,
		CheckedBy: res.CheckedBy, Warnings: res.Warnings}
	if err != nil {
		rep.ReloadPending = errors.Is(err, ErrReload)
		rep.Error = err.Error()
	}
	return rep, err
}

// absent says why there is nothing to do when the main configuration file
// does not exist: an image without openssh-server has nothing that reads
// passwords over SSH, and removing a package must never fail for it.
func absent(o Options) string {
	root, main := o.Root, o.Config
	if root == "" {
		root = "/"
	}
	if main == "" {
		main = DefaultConfig
	}
	if _, err := os.Lstat(filepath.Join(root, main)); errors.Is(err, fs.ErrNotExist) {
		return "no sshd configuration at " + main
	}
	return ""
}

// unsafeReason says why turning password logon off could lock someone out,
// or "" when every target user has a usable key.
func unsafeReason(req Request) string {
	if req.KeysFailed {
		return "the keys step failed"
	}
	var without []string
	for _, t := range req.Targets {
		if t.Usable == 0 {
			without = append(without, t.User)
		}
	}
	if len(without) > 0 {
		return "no usable key in authorized_keys for " + strings.Join(without, ", ")
	}
	return ""
}

// unreadKeys says which targets' ~/.ssh/authorized_keys sshd does not read
// (AuthorizedKeysFile), or "" when sshd reads every one.
func unreadKeys(eff []UserResult, targets []Target) string {
	var unread []string
	for _, t := range targets {
		read := false
		for _, e := range eff {
			if e.User == t.User && readsFile(e.AuthorizedKeysFiles, t) {
				read = true
			}
		}
		if !read {
			unread = append(unread, t.User)
		}
	}
	if len(unread) > 0 {
		return "sshd's AuthorizedKeysFile does not include ~/.ssh/authorized_keys for " + strings.Join(unread, ", ")
	}
	return ""
}

// readsFile reports whether one of sshd's AuthorizedKeysFile patterns
// names t's ~/.ssh/authorized_keys (tokens as in sshd_config(5) TOKENS).
func readsFile(patterns []string, t Target) bool {
	if t.Home == "" {
		return false
	}
	want := filepath.Join(t.Home, ".ssh/authorized_keys")
	for _, p := range patterns {
		p = strings.NewReplacer("%%", "%", "%h", t.Home, "%u", t.User, "%U", strconv.Itoa(t.UID)).Replace(p)
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.Home, p)
		}
		if filepath.Clean(p) == want {
			return true
		}
	}
	return false
}
