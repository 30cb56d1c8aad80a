package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// syncSSHD runs the sshd step after the keys step (issue #3). Password
// logon is turned off only when every target user has a usable key in the
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
	s := &SSHDReport{}
	r.SSHD = s
	if _, err := os.Lstat(filepath.Join(o.Root, c.Config)); errors.Is(err, fs.ErrNotExist) {
		// An image without openssh-server: nothing reads passwords over SSH.
		s.Skipped = "no sshd configuration at " + c.Config
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
	var res sshd.Result
	var err error
	if why != "" {
		s.Skipped = why
		res, err = sshd.Inspect(ctx, opts)
	} else {
		opts.RetryReload = e.reloadPending()
		res, err = sshd.Apply(ctx, opts)
	}
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
		return
	}
	if s.Skipped != "" && disable && !o.DryRun {
		o.Logger.Warn("password logon left as it is", zap.String("reason", s.Skipped))
	}
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

// reloadPending reports whether the last sync wrote sshd's configuration but
// could not reload sshd: this sync must reload even though it writes nothing.
func (e *Engine) reloadPending() bool {
	last, err := LoadState(e.opts.Root)
	return err == nil && last.SSHD != nil && last.SSHD.ReloadPending
}
