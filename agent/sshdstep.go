package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// sshdCache remembers the last sshd step, so that a poll that changes
// nothing does not run sshd -T again (see sshd.Fingerprint).
type sshdCache struct {
	key    string
	report SSHDReport
}

// syncSSHD runs the sshd step after the keys step (issue #3). Password
// logon is turned off only when every target user has a usable key in a
// file sshd reads; otherwise sshd is left exactly as it is, and why is said.
func (e *Engine) syncSSHD(ctx context.Context, r *Report) {
	o := e.opts
	c := o.Config.SSHD
	opts := sshd.Options{
		Root:           o.Root,
		Config:         c.Config,
		Password:       sshd.Mode(c.PasswordAuthentication),
		KbdInteractive: sshd.Mode(c.KeyboardInteractive),
		Users:          o.Config.Users,
		Reloader:       o.SSHDReloader,
		Logger:         o.Logger,
	}
	if _, err := os.Lstat(filepath.Join(o.Root, c.Config)); errors.Is(err, fs.ErrNotExist) {
		// An image without openssh-server: nothing reads passwords over SSH.
		r.SSHD = &SSHDReport{Skipped: "no sshd configuration at " + c.Config}
		return
	}
	disable := opts.Password == sshd.Disable || opts.KbdInteractive == sshd.Disable
	why := ""
	switch {
	case o.DryRun:
		why = "dry run"
	case disable:
		why = unsafeReason(r)
	}
	reloadPending := !o.DryRun && e.reloadPending()
	cacheKey := ""
	if fp, err := sshd.Fingerprint(opts); err == nil && !reloadPending {
		cacheKey = fp + "\n" + why
		if e.sshdCache != nil && e.sshdCache.key == cacheKey {
			s := e.sshdCache.report
			s.Changed, s.Reloaded, s.Reload = nil, false, "nothing changed"
			r.SSHD = &s
			return
		}
	}
	s := &SSHDReport{}
	r.SSHD = s
	res, err := e.runSSHD(ctx, opts, why, reloadPending, r)
	s.Skipped = res.skipped
	s.Method, s.Changed, s.Reloaded, s.Reload = res.Method, res.Changed, res.Reloaded, res.Reload
	s.CheckedBy, s.Warnings = res.CheckedBy, res.Warnings
	for _, u := range res.Users {
		s.Users = append(s.Users, SSHDUserReport{User: u.User,
			PasswordAuthentication: u.PasswordAuthentication, KbdInteractiveAuthentication: u.KbdInteractiveAuthentication})
	}
	for _, w := range res.Warnings {
		o.Logger.Warn("sshd warning", zap.String("warning", w))
	}
	if err != nil {
		s.ReloadPending = errors.Is(err, sshd.ErrReload)
		s.Error = err.Error()
		r.fail(fmt.Errorf("sshd: %w", err))
		e.sshdCache = nil
		return
	}
	if s.Skipped != "" && disable && !o.DryRun {
		o.Logger.Warn("password logon left as it is", zap.String("reason", s.Skipped))
	}
	if res.Managed != "" || res.skipped == "" {
		e.sshdManaged = res.Managed // "" after keep: nothing of ours to watch
	}
	if cacheKey != "" && len(s.Changed) == 0 {
		e.sshdCache = &sshdCache{key: cacheKey, report: *s}
	} else {
		e.sshdCache = nil // what we wrote changes the fingerprint: take it next time
	}
}

type sshdOutcome struct {
	sshd.Result
	skipped string
}

// runSSHD inspects, or applies when it is safe. Before turning password
// logon off it checks with sshd itself that every user's keys are in a file
// sshd reads: an AuthorizedKeysFile pointing elsewhere would lock them out.
func (e *Engine) runSSHD(ctx context.Context, opts sshd.Options, why string, reloadPending bool, r *Report) (sshdOutcome, error) {
	if why != "" {
		res, err := sshd.Inspect(ctx, opts)
		return sshdOutcome{res, why}, err
	}
	if opts.Password == sshd.Disable || opts.KbdInteractive == sshd.Disable {
		res, err := sshd.Inspect(ctx, opts)
		if err != nil {
			return sshdOutcome{Result: res}, err
		}
		if why := unreadKeys(res.Users, r.Users); why != "" {
			return sshdOutcome{res, why}, nil
		}
	}
	opts.RetryReload = reloadPending
	res, err := sshd.Apply(ctx, opts)
	return sshdOutcome{Result: res}, err
}

// unsafeReason says why turning password logon off could lock someone out,
// or "" when every target user has a usable key.
func unsafeReason(r *Report) string {
	if r.Outcome == OutcomeFailed {
		return "the keys step failed"
	}
	var without []string
	for _, u := range r.Users {
		if u.Usable == 0 {
			without = append(without, u.User)
		}
	}
	if len(without) > 0 {
		return "no usable key in authorized_keys for " + strings.Join(without, ", ")
	}
	return ""
}

// unreadKeys says which users' ~/.ssh/authorized_keys sshd does not read
// (AuthorizedKeysFile), or "" when sshd reads every one.
func unreadKeys(eff []sshd.UserResult, users []UserReport) string {
	var unread []string
	for _, u := range users {
		read := false
		for _, e := range eff {
			if e.User == u.User && readsFile(e.AuthorizedKeysFiles, u) {
				read = true
			}
		}
		if !read {
			unread = append(unread, u.User)
		}
	}
	if len(unread) > 0 {
		return "sshd's AuthorizedKeysFile does not include ~/.ssh/authorized_keys for " + strings.Join(unread, ", ")
	}
	return ""
}

// readsFile reports whether one of sshd's AuthorizedKeysFile patterns
// names u's ~/.ssh/authorized_keys (tokens as in sshd_config(5) TOKENS).
func readsFile(patterns []string, u UserReport) bool {
	want := filepath.Join(u.home, ".ssh/authorized_keys")
	for _, p := range patterns {
		p = strings.NewReplacer("%%", "%", "%h", u.home, "%u", u.User, "%U", strconv.Itoa(u.uid)).Replace(p)
		if !filepath.IsAbs(p) {
			p = filepath.Join(u.home, p)
		}
		if filepath.Clean(p) == want {
			return true
		}
	}
	return false
}

// SSHDWatchPaths returns the sshd file holding the agent's settings (its
// drop-in, or the main file it edits) under the root in use, for the
// daemon's drift repair; none before the first sshd step that applied.
func (e *Engine) SSHDWatchPaths() []string {
	if e.sshdManaged == "" {
		return nil
	}
	return []string{filepath.Join(e.opts.Root, e.sshdManaged)}
}

// reloadPending reports whether the last sync wrote sshd's configuration but
// could not reload sshd: this sync must reload even though it writes nothing.
func (e *Engine) reloadPending() bool {
	last := e.previous()
	return last != nil && last.SSHD != nil && last.SSHD.ReloadPending
}
