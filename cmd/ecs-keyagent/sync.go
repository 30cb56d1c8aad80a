package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

var syncCmd = &command{
	name:  "sync",
	usage: "[--config FILE] [--root DIR] [--endpoint URL] [--user NAME]... [--dry-run] [--json]",
	short: "make authorized_keys match the key pair bound in the instance metadata, once",
	run:   runSync,
}

// commonArgs are the flags `sync` and `run` share.
type commonArgs struct {
	config, root, endpoint string
	users                  []string
}

func (a *commonArgs) register(fs *flag.FlagSet) {
	fs.StringVar(&a.config, "config", "", "configuration file (default "+config.DefaultPath+"; under --root if absolute)")
	fs.StringVar(&a.root, "root", "/", "treat `DIR` as the filesystem root for every path read or written")
	fs.StringVar(&a.endpoint, "endpoint", "", "metadata service `URL` (overrides the configuration)")
	fs.Func("user", "target user `NAME` (repeatable; overrides the configuration's users)", func(s string) error {
		if !config.ValidUserName(s) {
			return fmt.Errorf("%q is not a valid user name", s)
		}
		a.users = append(a.users, s)
		return nil
	})
}

// load reads the configuration and applies the command-line overrides.
func (a *commonArgs) load() (config.Config, error) {
	cfg, err := loadConfig(a.root, a.config)
	if err != nil {
		return cfg, err
	}
	if a.endpoint != "" {
		if !strings.HasPrefix(a.endpoint, "http://") && !strings.HasPrefix(a.endpoint, "https://") {
			return cfg, usageError{fmt.Errorf("--endpoint: want an http:// URL, got %q", a.endpoint)}
		}
		cfg.Endpoint = a.endpoint
	}
	if len(a.users) > 0 {
		cfg.Users = a.users
	}
	return cfg, nil
}

type syncArgs struct {
	commonArgs
	dryRun, json bool
}

func runSync(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a syncArgs
	a.register(fs)
	fs.BoolVar(&a.dryRun, "dry-run", false, "show the change as a unified diff and write nothing")
	fs.BoolVar(&a.json, "json", false, "print one JSON report instead of the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := a.load()
	if err != nil {
		return err
	}
	log, err := env.logger("warn")
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // nothing useful to do on stderr errors
	eng := agent.NewEngine(agent.Options{Config: cfg, Root: a.root, DryRun: a.dryRun, Logger: log})
	r := eng.Sync(ctx)
	if a.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printSummary(env.stdout, r)
	}
	switch r.Outcome {
	case agent.OutcomeFailed:
		err := r.Err()
		if err == nil {
			err = errors.New(r.Error)
		}
		return exitError{status: exitFailed, err: fmt.Errorf("sync: %w", err)}
	case agent.OutcomePartial:
		return exitError{status: exitPartial, err: errors.New("sync: some keys were rejected; the others are installed")}
	}
	return nil
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
