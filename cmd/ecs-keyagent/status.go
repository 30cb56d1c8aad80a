package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

var statusCmd = &command{
	name:  "status",
	usage: "[--config FILE] [--root DIR] [--endpoint URL] [--user NAME]... [--json]",
	short: "show the state in force: keys, sshd, the metadata service and the service",
	examples: [][2]string{
		{"sudo ecs-keyagent status", "what is in force: keys, sshd's settings and their lines, the service"},
		{"sudo ecs-keyagent status --json", "the same as one JSON object, for scripts"},
	},
	run: runStatus,
}

// statusJSON is `status --json`: the state in force and the service.
type statusJSON struct {
	*agent.Status
	Service *systemd.UnitState `json:"service,omitempty"`
}

// runStatus reads the state in force. Exit status: 0 when the last sync
// succeeded, 1 when the last attempt failed (the state shown is the last
// good one), 3 when no sync has run yet.
func runStatus(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error {
	var a commonArgs
	var asJSON bool
	a.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the state as one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	root := a.root
	if root == "/" && os.Geteuid() != 0 {
		return needRootError{what: "status reads the users' authorized_keys and sshd's configuration"}
	}
	cfg, err := a.load()
	if err != nil {
		return err
	}
	log, err := env.logger("")
	if err != nil {
		return err
	}
	eng := agent.NewEngine(agent.Options{Config: cfg, Root: root, Logger: log})
	defer eng.Close()
	out := statusJSON{Status: eng.Status(ctx)}
	if root == "/" && systemd.Booted() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out.Service, _ = systemd.State(sctx, "ecs-keyagent.service")
		cancel()
	}
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printStatus(env.stdout, out.Status, out.Service)
	}
	switch out.Outcome {
	case agent.OutcomeNone:
		return exitError{status: exitNoSync}
	case agent.OutcomeFailed:
		return exitError{status: exitFailed}
	}
	return nil
}
