package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

var doctorCmd = &command{
	name:  "doctor",
	usage: "[--config FILE] [--root DIR] [--endpoint URL] [--user NAME] [--fingerprint SHA256:... | --key FILE] [--json]",
	short: "find the broken link behind \"Permission denied (publickey)\"; changes nothing",
	examples: [][2]string{
		{"sudo ecs-keyagent doctor", "check every link of a key login for the login user"},
		{"sudo ecs-keyagent doctor --user ecs-user --key id_ed25519.pub", "check why this key is refused for ecs-user"},
	},
	run: runDoctor,
}

type doctorArgs struct {
	commonArgs
	fingerprint, keyFile string
	json                 bool
}

// runDoctor walks every link of a key login and prints one line per link.
// Exit status 0 when every link holds, 1 when one is broken.
func runDoctor(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a doctorArgs
	a.register(fs)
	fs.StringVar(&a.fingerprint, "fingerprint", "", "check the key with this SHA256 fingerprint, as ssh-keygen -l prints it")
	fs.StringVar(&a.keyFile, "key", "", "check the public key in `FILE` (such as ~/.ssh/id_ed25519.pub on the client)")
	fs.BoolVar(&a.json, "json", false, "print the links as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if a.root == "/" && os.Geteuid() != 0 {
		return needRootError{what: "doctor reads the users' files, /etc/shadow and sshd's configuration"}
	}
	try := a.fingerprint
	if a.keyFile != "" {
		data, err := os.ReadFile(a.keyFile)
		if err != nil {
			return usageError{err: fmt.Errorf("--key: %w", err)}
		}
		fp := keys.LineFingerprint(strings.TrimSpace(string(data)))
		if fp == "" {
			return usageError{err: fmt.Errorf("--key: %s holds no public key", a.keyFile)}
		}
		try = fp
	}
	if try != "" && !strings.HasPrefix(try, "SHA256:") {
		return usageError{err: fmt.Errorf("--fingerprint: want SHA256:... as ssh-keygen -l prints it, got %q", try)}
	}
	if len(a.users) > 1 {
		return usageError{err: fmt.Errorf("--user: doctor takes one user")}
	}
	user := ""
	if len(a.users) == 1 {
		user, a.users = a.users[0], nil
	}
	cfg, err := a.load()
	if err != nil {
		return err
	}
	log, err := env.logger("")
	if err != nil {
		return err
	}
	eng := agent.NewEngine(agent.Options{Config: cfg, Root: a.root, Logger: log})
	defer eng.Close()
	ds := eng.Doctor(ctx, user, try)
	if a.json {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ds); err != nil {
			return err
		}
	} else {
		printDoctor(env.stdout, ds)
	}
	for _, d := range ds {
		if !d.OK() {
			return exitError{status: exitFailed}
		}
	}
	return nil
}
