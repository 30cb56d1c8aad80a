package sshd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
)

// Report is what one sshd step found and did, as the agent's report and
// state file carry it.
type Report struct {
	Method    string       `json:"method,omitempty"` // drop-in, marked block, or none
	Changed   []string     `json:"changed,omitempty"`
	Removed   []string     `json:"removed,omitempty"` // those of Changed that were removed
	Diff      string       `json:"diff,omitempty"`    // a dry run's change, as a unified diff
	Reloaded  bool         `json:"reloaded"`
	Reload    string       `json:"reload,omitempty"`
	CheckedBy string       `json:"checked_by,omitempty"`
	Skipped   string       `json:"skipped,omitempty"` // why password login was left alone
	Users     []UserReport `json:"users,omitempty"`
	// Logons are the target users' ways in after the step.
	Logons []Logon `json:"logons,omitempty"`
	// Contract is where the platform's password contract stands (mode
	// "platform" only).
	Contract *Contract `json:"contract,omitempty"`
	// AlsoOff names the other users the agent's settings turn password
	// logon off for, who have a password and no usable key.
	AlsoOff  []string `json:"also_off,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
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

// Request is one sshd step. Options.Password and Options.KbdInteractive are
// the configured modes: Platform, Disable or Keep.
type Request struct {
	Options
	Targets    []Target
	DryRun     bool // inspect and report, write nothing
	KeysFailed bool // the keys step failed: passwords stay as they are
	// ReloadPending: the last step wrote but could not reload sshd; reload
	// this time even if nothing is written.
	ReloadPending bool
	KeyBound      bool     // public-keys/ lists a key pair; false after a detach
	Keys          []string // fingerprints of the bound keys, sorted
	Passwords     map[string]account.Password
	Previous      *Contract // from the last sync's report
	Now           time.Time
	// Others returns the non-target users who have a password and no
	// usable key; called when the step turns password login off.
	Others func() []string
}

// Step runs the sshd step and remembers its last result, so that a poll
// that changes nothing does not run sshd -T again (see Fingerprint). The
// zero value is ready; calls must not overlap (the agent's lock serialises
// them).
type Step struct {
	key     string // fingerprint of the last cached step
	cached  Report
	managed string // the sshd file holding the agent's settings, as sshd sees it
	fp      fingerprintMemo
}

// Run converges sshd for req. It never makes a change that leaves a target
// user who had a way in with none: then sshd stays byte for byte as it
// was, and Report.Skipped names the gate. A failure is in Report.Error and
// returned.
func (s *Step) Run(ctx context.Context, req Request) (*Report, error) {
	o := req.Options
	o.Users, o.groups = nil, map[string][]string{}
	// What MoreKeyTypes returns is not in the cache key: note whether the
	// model asked for it, and then do not cache this step.
	asked := false
	req.Targets = slices.Clone(req.Targets)
	for i, t := range req.Targets {
		if more := t.MoreKeyTypes; more != nil {
			req.Targets[i].MoreKeyTypes = func() []string { asked = true; return more() }
		}
	}
	for _, t := range req.Targets {
		o.Users = append(o.Users, t.User)
		o.groups[t.User] = t.Groups
	}
	root := o.Root
	if root == "" {
		root = "/"
	}
	var exists bool
	o.Config, o.vendor, exists = resolveMain(root, o.Config)
	if !exists { // resolveMain's lstat already found it otherwise
		if skip := absentAt(root, o.Config); skip != "" {
			return &Report{Skipped: skip}, nil
		}
	}
	platform := o.Password == Platform || o.KbdInteractive == Platform
	d := decide(req)
	why := ""
	o.Password, why = resolve(o.Password, d, req.KeyBound)
	var why2 string
	o.KbdInteractive, why2 = resolve(o.KbdInteractive, d, req.KeyBound)
	o.DryRun = req.DryRun // plan and judge as for real, write nothing
	switch {
	case req.KeysFailed && (o.Password == Disable || o.KbdInteractive == Disable):
		why = "the keys step failed"
	case why == "":
		why = why2
	}
	key := ""
	if fp, err := s.fingerprint(o); err == nil && !req.ReloadPending {
		key = fp + "\n" + why + "\n" + requestKey(req)
		if s.key == key {
			rep := s.cached
			rep.Changed, rep.Reloaded, rep.Reload = nil, false, "nothing changed"
			return &rep, nil
		}
	}
	res, skipped, logons, err := s.run(ctx, o, why, req)
	rep := &Report{Skipped: skipped, Method: res.Method, Changed: res.Changed, Removed: res.Removed, Diff: res.Diff,
		Reloaded: res.Reloaded, Reload: res.Reload, CheckedBy: res.CheckedBy, Warnings: res.Warnings, Logons: logons}
	for _, u := range res.Users {
		rep.Users = append(rep.Users, UserReport{User: u.User,
			PasswordAuthentication: u.PasswordAuthentication, KbdInteractiveAuthentication: u.KbdInteractiveAuthentication})
	}
	for _, l := range logons {
		if !l.Any() {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s has no way to log in: key: %s; password: %s", l.User, l.Key.Gate, l.Password.Gate))
		}
	}
	off := err == nil && skipped == "" && len(o.keys()) > 0
	if platform && !req.DryRun && (err == nil && skipped == "" || d.restore) {
		rep.Contract = next(req, d, off)
	} else if platform {
		rep.Contract = req.Previous
	}
	if off && len(res.Changed) > 0 && req.Others != nil {
		rep.AlsoOff = req.Others()
	}
	log := o.logger()
	for _, w := range rep.Warnings {
		log.Warn("sshd warning", zap.String("warning", w))
	}
	s.key = ""
	if err != nil {
		rep.ReloadPending = errors.Is(err, ErrReload)
		rep.Error = err.Error()
		return rep, err
	}
	if skipped != "" && !req.DryRun && (o.Password == Disable || o.KbdInteractive == Disable) {
		log.Warn("password login left as it is", zap.String("reason", skipped))
	}
	if len(res.Changed) > 0 && rep.Contract != nil {
		log.Info(rep.Contract.String())
	}
	for _, u := range rep.AlsoOff {
		log.Warn("password login is now off for " + u + " too: " + u + " has a password and no key")
	}
	if res.Managed != "" || skipped == "" {
		s.managed = res.Managed // "" after keep: nothing of ours to watch
	}
	if key != "" && len(rep.Changed) == 0 && !asked && !req.DryRun {
		s.key, s.cached = key, *rep // what we wrote changes the fingerprint: take it next time
	}
	return rep, nil
}

// resolve turns a configured mode into what this sync does: Disable, Keep,
// or "" with the reason sshd is left as it is.
func resolve(m Mode, d decision, keyBound bool) (Mode, string) {
	switch {
	case m == Platform && d.restore:
		return Keep, ""
	case m == Platform:
		return Disable, ""
	case m == Disable && !keyBound:
		return "", "no key pair is bound; password login stays as it is (mode disable)"
	}
	return m, ""
}

// requestKey hashes what of req the step's outcome depends on besides the
// files Fingerprint reads.
func requestKey(req Request) string {
	b, _ := json.Marshal(struct {
		T []Target
		B bool
		K []string
		P map[string]account.Password
		C *Contract
	}{req.Targets, req.KeyBound, req.Keys, req.Passwords, req.Previous})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Managed returns the sshd file holding the agent's settings (its drop-in,
// or the main file it edits), as sshd sees it, for drift repair; "" before
// the first step that applied, and after one that removed them.
func (s *Step) Managed() string { return s.managed }

// run inspects, or applies when the logon rule allows it.
func (s *Step) run(ctx context.Context, o Options, why string, req Request) (Result, string, []Logon, error) {
	if why != "" || o.Password == "" || o.KbdInteractive == "" {
		if o.Password == "" {
			o.Password = Keep
		}
		if o.KbdInteractive == "" {
			o.KbdInteractive = Keep
		}
		res, err := Inspect(ctx, o)
		return res, why, logons(req.Targets, res.views, nil), err
	}
	o.RetryReload = req.ReloadPending
	if len(o.keys()) == 0 {
		res, err := Apply(ctx, o)
		return res, "", logons(req.Targets, res.views, nil), err
	}
	before, err := Inspect(ctx, o)
	if err != nil {
		return before, "", nil, err
	}
	var warnings []string
	for {
		reason, dropKbd, err := judge(o, req.Targets, before.views)
		if err != nil {
			return before, "", nil, err
		}
		if dropKbd {
			o.KbdInteractive = Keep
			warnings = append(warnings, "KbdInteractiveAuthentication left as it is: AuthenticationMethods uses keyboard-interactive with the key, as a second factor")
			continue
		}
		if reason != "" {
			return before, reason, logons(req.Targets, before.views, nil), nil
		}
		break
	}
	o.check = func(views map[string][]view) error {
		for _, t := range req.Targets {
			had := combine(t, before.views[t.User], nil)
			now := combine(t, views[t.User], nil)
			if had.Any() && !now.Any() {
				return fmt.Errorf("sshd reads the new configuration as leaving %s with no way to log in (key: %s); restored the earlier files", t.User, now.Key.Gate)
			}
		}
		return nil
	}
	res, err := Apply(ctx, o)
	if err == nil && o.Password == Disable {
		warnings = append(warnings, stillOn(req.Targets, res.views)...)
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, "", logons(req.Targets, res.views, nil), err
}

// stillOn names the targets sshd still lets in with a password after the
// change, and the value that does it: a Match block that sets
// PasswordAuthentication yes overrides the global value the agent writes
// (sshd_config(5), Match), and the agent leaves Match blocks alone.
func stillOn(targets []Target, views map[string][]view) []string {
	var out []string
	for _, t := range targets {
		for _, v := range views[t.User] {
			if l := logon(t, v, testAddr, nil); l.Password.Open {
				k := kwPassword
				if v.get(kwPassword) != "yes" {
					k = kwKbd
				}
				out = append(out, fmt.Sprintf("password login is still on for %s: %s after the change; the agent leaves Match blocks alone, so set it to no there to turn it off",
					t.User, v.gate(k)))
				break
			}
		}
	}
	return out
}

// judge applies the logon rule to the change o asks for: reason says why
// it would leave a target with no way in, "" when it would not. dropKbd
// asks to keep keyboard-interactive open instead, when that alone saves the
// key way (a second factor).
func judge(o Options, targets []Target, views map[string][]view) (reason string, dropKbd bool, err error) {
	p, err := makePlan(o.Root, o.Config, o.keys(), o.vendor)
	if err != nil {
		return "", false, err
	}
	for _, t := range targets {
		off := map[string]bool{}
		for _, k := range o.keys() {
			off[k] = p.cfg.view(p.cfg.connections(t.User, t.Groups)[0]).get(k) == "no"
		}
		had := combine(t, views[t.User], nil)
		after := combine(t, views[t.User], off)
		if !had.Any() || after.Any() {
			continue
		}
		// Keyboard-interactive stays on only when it rescues the key way
		// itself (a second factor in AuthenticationMethods), not merely
		// because it is a way to type a password.
		if off[kwKbd] && combine(t, views[t.User], map[string]bool{kwPassword: off[kwPassword]}).Key.Open {
			return "", true, nil
		}
		return fmt.Sprintf("%s would leave %s with no way to log in", after.Key.Gate, t.User), false, nil
	}
	return "", false, nil
}

// combine is t's ways in over every port sshd listens on: a way is open
// when it is open on one of them.
func combine(t Target, views []view, off map[string]bool) Logon {
	var l Logon
	for i, v := range views {
		one := logon(t, v, testAddr, off)
		if i == 0 {
			l = one
			continue
		}
		if one.Password.Open {
			l.Password = one.Password
		}
		if one.Key.Open {
			l.Key = one.Key
		}
	}
	if len(views) == 0 {
		l.User = t.User
	}
	return l
}

func logons(targets []Target, views map[string][]view, off map[string]bool) []Logon {
	if views == nil {
		return nil
	}
	var out []Logon
	for _, t := range targets {
		out = append(out, combine(t, views[t.User], off))
	}
	return out
}

// Restore removes what the agent wrote to sshd's configuration, restoring
// the earlier bytes, checks the result with sshd -t and reloads sshd when it
// runs: both modes keep. Report.Skipped is set when there is no sshd
// configuration to restore. With o.DryRun it only says what it would
// change (Report.Changed, Removed and Diff).
func Restore(ctx context.Context, o Options) (*Report, error) {
	o.Password, o.KbdInteractive, o.Users = Keep, Keep, nil
	if skip := absent(o); skip != "" {
		return &Report{Skipped: skip}, nil
	}
	res, err := Apply(ctx, o)
	rep := &Report{Method: res.Method, Changed: res.Changed, Removed: res.Removed, Diff: res.Diff,
		Reloaded: res.Reloaded, Reload: res.Reload, CheckedBy: res.CheckedBy, Warnings: res.Warnings}
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
	root := o.Root
	if root == "" {
		root = "/"
	}
	main, _ := mainConfig(root, o.Config)
	return absentAt(root, main)
}

// absentAt is absent for the main file main, as mainConfig resolved it.
func absentAt(root, main string) string {
	if _, err := os.Lstat(filepath.Join(root, main)); errors.Is(err, fs.ErrNotExist) {
		return "no sshd configuration at " + main
	}
	return ""
}
