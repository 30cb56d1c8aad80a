package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/account"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

// usage prints the top-level help.
func (env *cliEnv) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: ecs-keyagent [--log-level LEVEL] COMMAND [flags]\n")
	fmt.Fprintf(w, "       ecs-keyagent --version | help [COMMAND]\n\n")
	fmt.Fprintf(w, "Keeps the SSH key pair bound to this ECS instance in the login user's\n")
	fmt.Fprintf(w, "authorized_keys, and password login as the platform's contract says.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nRun 'ecs-keyagent COMMAND -h' (or 'ecs-keyagent help COMMAND') for a command's flags.\n")
	fmt.Fprintf(w, "Configuration: /etc/ecs-keyagent/config.toml; manual: man ecs-keyagent.\n")
}

// printHelp prints a command's help: usage, what it does, its flags in GNU
// spelling, its exit status and examples.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\n%s.\n\nFlags:\n", strings.TrimSpace("Usage: ecs-keyagent "+c.name+" "+c.usage), upperFirst(c.short))
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		switch arg {
		case "":
		case "string", "value", "text", "int", "duration":
			arg = strings.ToUpper(f.Name)
		}
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, usage)
	})
	fmt.Fprintf(w, "  -h, --help\n        print this help\n")
	fmt.Fprintf(w, "\nExit status: %s\n", exitStatusLine(c.name))
	if len(c.examples) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, ex := range c.examples {
			fmt.Fprintf(w, "  %s\n      %s\n", ex[0], ex[1])
		}
	}
}

// exitStatusLine says what each exit status of a command means.
func exitStatusLine(cmd string) string {
	switch cmd {
	case "sync":
		return "0 done, 1 failed (what failed was left as it was), 2 usage or configuration error, 3 some keys rejected (the rest installed)."
	case "status":
		return "0 the last sync succeeded, 1 the last attempt failed, 2 usage error, 3 no sync has run yet."
	case "doctor":
		return "0 every link holds, 1 a link is broken, 2 usage error."
	case "run":
		return "0 after SIGTERM or SIGINT, 2 usage or configuration error."
	}
	return "0 done, 1 failed, 2 usage or configuration error."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// errorf prints err, and a hint when one applies, through the one place
// every message a person reads goes through.
func (env *cliEnv) errorf(err error) {
	fmt.Fprintf(env.stderr, "ecs-keyagent: error: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(env.stderr, "ecs-keyagent: hint: %s\n", h)
	}
}

// progress tells the person at the terminal what the command waits for.
func (env *cliEnv) progress(msg string) {
	fmt.Fprintf(env.stderr, "ecs-keyagent: %s\n", msg)
}

// warnf prints a warning, and a hint when one applies.
func (env *cliEnv) warnf(err error) {
	fmt.Fprintf(env.stderr, "ecs-keyagent: warning: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(env.stderr, "ecs-keyagent: hint: %s\n", h)
	}
}

// hint says what to do about err, or "" when there is nothing useful to say.
func hint(err error) string {
	var ue usageError
	var nr needRootError
	var status metadata.StatusError
	var netErr *net.OpError
	switch {
	case errors.As(err, &nr):
		return "run it as root: sudo ecs-keyagent " + commandOf(err)
	case errors.Is(err, fs.ErrPermission):
		return "the agent reads and writes other users' files and sshd's: run it as root (sudo)"
	case errors.As(err, &ue) && ue.help != "":
		return "see '" + ue.help + " -h'"
	case errors.As(err, &ue):
		return "see 'man ecs-keyagent' and /etc/ecs-keyagent/config.toml"
	case errors.Is(err, securefs.ErrUnsafe):
		return "the agent never follows symbolic links or writes files others control: fix the owner and mode (chown USER, chmod go-w) or remove the link, then run sync again"
	case errors.Is(err, keys.ErrDamagedBlock):
		return "repair or delete the '# BEGIN/# END ecs-keyagent' marker lines in that file, then run sync again"
	case errors.Is(err, metadata.ErrDisabled):
		return "metadata access is disabled for this instance: enable it in the ECS console (instance metadata options) and run sync again"
	case errors.Is(err, metadata.ErrTimeout):
		return "the metadata service did not answer in time: check the instance's network; if it is only slow, raise request_timeout in /etc/ecs-keyagent/config.toml"
	case errors.As(err, &status) && status.Status >= 500:
		return "the metadata service failed; this is usually brief: run sync again in a minute (the service retries by itself)"
	case errors.Is(err, agent.ErrNoUsableKey):
		return "the agent refused every key the instance has (see the key lines above): bind an ed25519, ECDSA or RSA key pair of at least min_rsa_bits"
	case errors.Is(err, account.ErrNoUser):
		return "no such user on this system: create it, or name existing users with --user or users in /etc/ecs-keyagent/config.toml"
	case errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "home"):
		return "the user's home directory does not exist: create it (mkhomedir_helper USER) and run sync again"
	case errors.As(err, &netErr):
		return "is this an ECS instance with the metadata service reachable? set endpoint in /etc/ecs-keyagent/config.toml or --endpoint"
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
	for _, u := range r.Released {
		fmt.Fprintf(w, "%s: no longer served: %s\n", u.User, userLine(u, r.DryRun))
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
		if u.Changed {
			parts = append(parts, "kept "+fp)
		} else {
			parts = append(parts, fp) // "unchanged: SHA256:...", said once
		}
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
		fmt.Fprintf(w, "sshd: %s can log in with: %s\n", l.User, ways(l))
	}
	if c := s.Contract.String(); c != "" {
		fmt.Fprintf(w, "sshd: %s\n", c)
	}
	for _, u := range s.AlsoOff {
		fmt.Fprintf(w, "sshd: password login is now off for %s too: %s has a password and no key\n", u, u)
	}
	verb := "changed"
	if s.Diff != "" {
		verb = "would change"
	}
	for _, f := range s.Changed {
		switch {
		case slices.Contains(s.Removed, f) && s.Diff != "":
			fmt.Fprintf(w, "sshd: would remove %s\n", f)
		case slices.Contains(s.Removed, f):
			fmt.Fprintf(w, "sshd: removed %s\n", f)
		default:
			fmt.Fprintf(w, "sshd: %s %s\n", verb, f)
		}
	}
	if s.Diff != "" {
		fmt.Fprint(w, s.Diff)
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

// printStatus writes the state in force.
func printStatus(w io.Writer, st *agent.Status, svc *systemd.UnitState) {
	now := time.Now()
	switch {
	case st.LastAttempt == nil:
		fmt.Fprintf(w, "last sync: none yet\n")
	case st.Failure != nil:
		fmt.Fprintf(w, "last sync: %s, failed; failing since %s (%d attempts): %s\n", when(*st.LastAttempt, now),
			st.Failure.Since.Local().Format(time.RFC3339), st.Failure.Attempts, st.Failure.Error)
	default:
		fmt.Fprintf(w, "last sync: %s, %s\n", when(*st.LastAttempt, now), st.Outcome)
	}
	if st.LastSuccess != nil && st.Failure != nil {
		fmt.Fprintf(w, "last success: %s; what follows is the state it left\n", when(*st.LastSuccess, now))
	}
	m := st.Metadata
	id := m.InstanceID
	if id == "" {
		id = "unknown"
	}
	fmt.Fprintf(w, "metadata: %s, instance %s", m.Endpoint, id)
	if m.AnsweredAt != nil {
		fmt.Fprintf(w, ", answered %s", when(*m.AnsweredAt, now))
	}
	fmt.Fprintln(w)
	if m.NoKeyBound {
		fmt.Fprintf(w, "metadata: no key pair bound\n")
	}
	for _, k := range m.Keys {
		if k.Installed {
			fmt.Fprintf(w, "metadata: key %s: %s %s\n", k.ID, k.Type, k.Fingerprint)
		} else {
			fmt.Fprintf(w, "metadata: key %s: rejected: %s\n", k.ID, k.Reason)
		}
	}
	for _, u := range st.Users {
		if u.Error != "" && u.Path == "" {
			fmt.Fprintf(w, "%s: %s\n", u.User, u.Error)
			continue
		}
		fmt.Fprintf(w, "%s: %s: %s, %s; files: %s\n", u.User, u.Path, plural(len(u.Managed), "managed key"),
			plural(u.Others, "other key"), u.Files)
		for _, k := range u.Managed {
			fmt.Fprintf(w, "  %d %s %s (%s)\n", k.Bits, k.Fingerprint, k.Comment, keyTypeName(k.Type))
		}
		if u.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", u.Error)
		}
	}
	if s := st.SSHD; s != nil {
		if s.Skipped != "" {
			fmt.Fprintf(w, "sshd: %s\n", s.Skipped)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "sshd: error: %s\n", s.Error)
		}
		for _, u := range s.Users {
			fmt.Fprintf(w, "sshd: %s: passwordauthentication %s (%s), kbdinteractiveauthentication %s (%s)\n", u.User,
				u.PasswordAuthentication.Value, u.PasswordAuthentication.Source,
				u.KbdInteractiveAuthentication.Value, u.KbdInteractiveAuthentication.Source)
			fmt.Fprintf(w, "sshd: %s can log in with: %s\n", u.User, ways(u.Logon))
		}
		if c := s.Contract.String(); c != "" {
			fmt.Fprintf(w, "sshd: %s\n", c)
		}
		for _, u := range s.AlsoOff {
			fmt.Fprintf(w, "sshd: password login is off for %s too: %s has a password and no key\n", u, u)
		}
		if s.CheckedBy != "" {
			fmt.Fprintf(w, "sshd: checked by %s\n", s.CheckedBy)
		}
	}
	if svc != nil {
		fmt.Fprintf(w, "service: %s %s (%s)", svc.Unit, svc.ActiveState, svc.SubState)
		if !svc.Since.IsZero() {
			fmt.Fprintf(w, " since %s", svc.Since.Local().Format(time.RFC3339))
		}
		if svc.PID != 0 {
			fmt.Fprintf(w, ", pid %d", svc.PID)
		}
		fmt.Fprintf(w, "; logs: %s\n", svc.Logs)
	} else {
		fmt.Fprintf(w, "service: not under systemd here; logs: journalctl -u ecs-keyagent\n")
	}
}

// when renders a time and how long ago it was.
func when(t, now time.Time) string {
	return fmt.Sprintf("%s (%s ago)", t.Local().Format(time.RFC3339), now.Sub(t).Round(time.Second))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// keyTypeName is the key type as ssh-keygen -l names it.
func keyTypeName(t string) string {
	switch {
	case t == "ssh-ed25519":
		return "ED25519"
	case t == "ssh-rsa":
		return "RSA"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ECDSA"
	case t == "sk-ssh-ed25519@openssh.com":
		return "ED25519-SK"
	case strings.HasPrefix(t, "sk-ecdsa-"):
		return "ECDSA-SK"
	}
	return t
}

// commandOf names the subcommand a needRootError came from.
func commandOf(err error) string {
	var nr needRootError
	if errors.As(err, &nr) {
		if cmd, _, ok := strings.Cut(nr.what, " "); ok {
			return cmd
		}
	}
	return ""
}

// printDoctor writes one line per link: "ok" or "FAIL", then the fix.
func printDoctor(w io.Writer, ds []agent.Diagnosis) {
	for _, d := range ds {
		fmt.Fprintf(w, "%s:\n", d.User)
		for _, l := range d.Links {
			mark := "ok  "
			if !l.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  %s  %s: %s\n", mark, l.Name, l.Detail)
			if l.Fix != "" {
				fmt.Fprintf(w, "        fix: %s\n", l.Fix)
			}
		}
	}
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
