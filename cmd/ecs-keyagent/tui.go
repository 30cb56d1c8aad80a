package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// usage prints the top-level help.
func (env *cliEnv) usage() {
	fmt.Fprintf(env.stderr, "Usage: ecs-keyagent [--log-level LEVEL] COMMAND [flags]\n\nCommands:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(env.stderr, "  %-*s  %s\n", width, c.name, c.short)
	}
	fmt.Fprintf(env.stderr, "\nRun 'ecs-keyagent COMMAND -h' for a command's flags.\n")
}

// errorf prints err, and a hint when one applies, through the one place
// every message a person reads goes through.
func (env *cliEnv) errorf(err error) {
	fmt.Fprintf(env.stderr, "ecs-keyagent: error: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(env.stderr, "ecs-keyagent: hint: %s\n", h)
	}
}

// hint says what to do about err, or "" when there is nothing useful to say.
func hint(err error) string {
	var ue usageError
	var netErr *net.OpError
	switch {
	case errors.As(err, &ue):
		return "see 'ecs-keyagent -h' and the configuration reference in the README"
	case errors.Is(err, securefs.ErrUnsafe):
		return "the agent never follows symbolic links or writes files others control: fix the owner and mode (chown USER, chmod go-w) or remove the link, then run sync again"
	case errors.Is(err, keys.ErrDamagedBlock):
		return "repair or delete the '# BEGIN/# END ecs-keyagent' marker lines in that file, then run sync again"
	case errors.As(err, &netErr):
		return "is this an ECS instance with the metadata service reachable? set endpoint in the configuration or --endpoint"
	case errors.Is(err, metadata.ErrNoKeyBound):
		return ""
	}
	return ""
}

// printSummary writes the short human summary of a sync.
func printSummary(w io.Writer, r *agent.Report) {
	id := r.InstanceID
	if id == "" {
		id = "unknown"
	}
	fmt.Fprintf(w, "instance %s (metadata %s)\n", id, r.Endpoint)
	if r.NoKeyBound {
		fmt.Fprintf(w, "no key pair bound\n")
	}
	for _, k := range r.Keys {
		if k.Installed {
			fmt.Fprintf(w, "key %s: %s %s\n", k.ID, k.Type, k.Fingerprint)
			continue
		}
		fp := k.Fingerprint
		if fp == "" {
			fp = "no fingerprint"
		}
		fmt.Fprintf(w, "key %s: rejected (%s): %s\n", k.ID, fp, k.Reason)
	}
	for _, u := range r.Users {
		fmt.Fprintf(w, "%s: %s\n", u.User, userLine(u, r.DryRun))
		if u.Diff != "" {
			fmt.Fprint(w, u.Diff)
		}
	}
	printSSHD(w, r.SSHD)
}

func userLine(u agent.UserReport, dryRun bool) string {
	path := u.Path
	if path == "" {
		path = "authorized_keys"
	}
	if u.Error != "" {
		return fmt.Sprintf("%s: failed: %s", path, u.Error)
	}
	var parts []string
	for _, fp := range u.Added {
		parts = append(parts, "added "+fp)
	}
	for _, fp := range u.Removed {
		parts = append(parts, "removed "+fp)
	}
	for _, fp := range u.Kept {
		parts = append(parts, "unchanged "+fp)
	}
	for _, fp := range u.Adopted {
		parts = append(parts, "adopted "+fp+" (found outside the block)")
	}
	state := "unchanged"
	if u.Changed && dryRun {
		state = "would change"
	} else if u.Changed {
		state = "updated"
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s: %s, no managed keys", path, state)
	}
	return fmt.Sprintf("%s: %s: %s", path, state, strings.Join(parts, ", "))
}

// printSSHD writes the sshd part of the summary, when the sync had one.
func printSSHD(w io.Writer, s *sshd.Report) {
	if s == nil {
		return
	}
	if s.Skipped != "" {
		fmt.Fprintf(w, "sshd: left alone: %s\n", s.Skipped)
	}
	for _, u := range s.Users {
		fmt.Fprintf(w, "sshd: %s: passwordauthentication %s, kbdinteractiveauthentication %s\n",
			u.User, u.PasswordAuthentication, u.KbdInteractiveAuthentication)
	}
	for _, l := range s.Logons {
		fmt.Fprintf(w, "sshd: %s can log on with: %s\n", l.User, ways(l))
	}
	if c := s.Contract.String(); c != "" {
		fmt.Fprintf(w, "sshd: %s\n", c)
	}
	for _, u := range s.AlsoOff {
		fmt.Fprintf(w, "sshd: password logon is now off for %s too: %s has a password and no key\n", u, u)
	}
	for _, f := range s.Changed {
		fmt.Fprintf(w, "sshd: changed %s\n", f)
	}
	if s.Reload != "" {
		fmt.Fprintf(w, "sshd: %s\n", s.Reload)
	}
	if s.CheckedBy != "" {
		fmt.Fprintf(w, "sshd: checked by %s\n", s.CheckedBy)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "sshd: warning: %s\n", warn)
	}
}

// ways says which ways in a user has: "key", "key, password", or "nothing"
// with the gates that close them.
func ways(l sshd.Logon) string {
	var open []string
	if l.Key.Open {
		open = append(open, "key")
	}
	if l.Password.Open {
		open = append(open, "password")
	}
	if len(open) == 0 {
		return fmt.Sprintf("nothing (key: %s; password: %s)", l.Key.Gate, l.Password.Gate)
	}
	return strings.Join(open, ", ")
}

// printStatus writes the last sync's result; last is when the last sync
// ran, which may be later than the result it left (an unchanged result is
// not rewritten).
func printStatus(w io.Writer, r *agent.Report, last time.Time) {
	if last.Before(r.Time) {
		last = r.Time
	}
	fmt.Fprintf(w, "last sync: %s (%s ago), outcome %s; this result since %s\n",
		last.Local().Format(time.RFC3339), time.Since(last).Round(time.Second), r.Outcome,
		r.Time.Local().Format(time.RFC3339))
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	printSummary(w, r)
}

// printConfigOK says that check-config found the file good, or absent
// (every key at its default).
func printConfigOK(w io.Writer, path string, exists bool) {
	if !exists {
		fmt.Fprintf(w, "ok: %s does not exist; every key has its default\n", path)
		return
	}
	fmt.Fprintf(w, "ok: %s\n", path)
}

// configError prints why check-config refused the file at path.
func (env *cliEnv) configError(err error, path string) {
	var ue usageError
	if errors.As(err, &ue) {
		err = ue.err
	}
	fmt.Fprintf(env.stderr, "ecs-keyagent: error: %v\n", err)
	fmt.Fprintf(env.stderr, "ecs-keyagent: hint: fix %s (the keys are in ecs-keyagent(8) and the README), then run 'ecs-keyagent check-config' again\n", path)
}

// printRestoreSSHD writes what restore-sshd did, or with dryRun would do:
// "removed FILE" for a file it deleted (the agent's drop-in), "restored
// FILE" for one it rewrote.
func printRestoreSSHD(w io.Writer, rep *sshd.Report, err error, mainFile string, dryRun bool) {
	switch {
	case rep.Skipped != "":
		// No openssh-server: nothing to restore, and never a reason to fail
		// a package removal.
		fmt.Fprintf(w, "sshd: nothing to restore: %s\n", rep.Skipped)
		return
	case len(rep.Changed) == 0 && err == nil:
		fmt.Fprintf(w, "sshd: nothing to restore in %s\n", mainFile)
		return
	}
	would := ""
	if dryRun {
		would = "would "
	}
	for _, f := range rep.Changed {
		verb := "restore"
		if slices.Contains(rep.Removed, f) {
			verb = "remove"
		}
		if !dryRun {
			verb += "d"
		}
		fmt.Fprintf(w, "sshd: %s%s %s\n", would, verb, f)
	}
	if dryRun {
		fmt.Fprint(w, rep.Diff)
		fmt.Fprintf(w, "sshd: dry run: nothing written, sshd not reloaded\n")
		return
	}
	if rep.Reload != "" && len(rep.Changed) > 0 {
		fmt.Fprintf(w, "sshd: %s\n", rep.Reload)
	}
}

// restoreRefused says why restore-sshd will not run while the service does.
func (env *cliEnv) restoreRefused(cfg config.Config, file string) {
	fmt.Fprintf(env.stderr, "ecs-keyagent: error: restore-sshd: %s is running with [sshd] password_authentication = %q and keyboard_interactive = %q (%s): its next sync would write sshd's configuration again\n",
		agentUnit, cfg.SSHD.PasswordAuthentication, cfg.SSHD.KeyboardInteractive, file)
	fmt.Fprintf(env.stderr, "ecs-keyagent: hint: set both to \"keep\" in %s and run 'systemctl reload ecs-keyagent' (the service then removes its changes itself), or run 'systemctl stop ecs-keyagent' first\n", file)
}

// printRestoreWouldBeUndone notes, after a dry run, that a real run would
// refuse while the service runs.
func printRestoreWouldBeUndone(w io.Writer, cfg config.Config) {
	fmt.Fprintf(w, "sshd: %s is running with password_authentication %q and keyboard_interactive %q: restore-sshd without --dry-run refuses until it is stopped or both are \"keep\"\n",
		agentUnit, cfg.SSHD.PasswordAuthentication, cfg.SSHD.KeyboardInteractive)
}
