package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ecs-keyagent/ecs-keyagent/systemd"
)

// Exit statuses, documented in the README.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitPartial = 3
	exitNoSync  = 3 // status: no sync has run yet
)

// usageError marks mistakes on the command line or in the configuration;
// help is the command whose -h the hint points to.
type usageError struct {
	err  error
	help string
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// needRootError: the command reads files only root may read.
type needRootError struct{ what string }

func (e needRootError) Error() string { return e.what + ", which needs root" }

// exitError carries an exit status after the report was printed.
type exitError struct {
	status int
	err    error
	warn   bool // said as a warning, not an error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.status)
	}
	return e.err.Error()
}
func (e exitError) Unwrap() error { return e.err }

// command is one subcommand: run sets up its flags, parses args and runs it.
type command struct {
	name, usage, short string
	examples           [][2]string // command line, what it does
	run                func(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error
}

var commands = []*command{syncCmd, runCmd, statusCmd, doctorCmd, checkConfigCmd, restoreCmd, versionCmd}

// cliEnv is what every subcommand gets: output streams, reload requests
// and global flags.
type cliEnv struct {
	stdout, stderr io.Writer
	reload         <-chan struct{}
	logLevel       string
}

// Run executes the command line args and returns the exit status. ctx ends
// the command (its cause says why); reload carries requests to re-read the
// configuration, which only `run` takes.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, reload <-chan struct{}) int {
	env := &cliEnv{stdout: stdout, stderr: stderr, reload: reload}
	err := dispatch(ctx, env, args)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		switch {
		case ee.err != nil && ee.warn:
			env.warnf(ee.err)
		case ee.err != nil:
			env.errorf(ee.err)
		}
		return ee.status
	}
	env.errorf(err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

func dispatch(ctx context.Context, env *cliEnv, args []string) error {
	global := flag.NewFlagSet("ecs-keyagent", flag.ContinueOnError)
	global.SetOutput(io.Discard) // errors are said once, by Run
	global.StringVar(&env.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error")
	showVersion := global.Bool("version", false, "print the version and exit")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			env.usage(env.stdout)
			return err
		}
		return flagError(err, global, "")
	}
	if *showVersion {
		return runVersion(ctx, env, env.newFlagSet(versionCmd), nil)
	}
	if global.NArg() == 0 {
		env.usage(env.stderr)
		return usageError{err: errors.New("no command given"), help: "ecs-keyagent"}
	}
	name, rest := global.Arg(0), global.Args()[1:]
	if name == "help" {
		return runHelp(env, rest)
	}
	if c := lookup(name); c != nil {
		return c.run(ctx, env, env.newFlagSet(c), rest)
	}
	err := fmt.Errorf("unknown command %q", name)
	if near := closest(name, commandNames()); near != "" {
		err = fmt.Errorf("unknown command %q; did you mean %q?", name, near)
	}
	return usageError{err: err, help: "ecs-keyagent"}
}

// runHelp is `help [COMMAND]`: the same text as -h, on stdout.
func runHelp(env *cliEnv, args []string) error {
	switch {
	case len(args) == 0:
		env.usage(env.stdout)
		return nil
	case len(args) > 1:
		return usageError{err: errors.New("help: takes at most one command"), help: "ecs-keyagent"}
	}
	if args[0] == "help" {
		env.usage(env.stdout)
		return nil
	}
	c := lookup(args[0])
	if c == nil {
		return usageError{err: fmt.Errorf("help: unknown command %q", args[0]), help: "ecs-keyagent"}
	}
	fs := env.newFlagSet(c)
	c.run(context.Background(), env, fs, []string{"-h"}) //nolint:errcheck // -h only prints the help
	return nil
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.name)
	}
	return append(out, "help")
}

// logger builds the zap logger: native journal entries when stderr is the
// journal (JOURNAL_STREAM names it, systemd.exec(5)), else console lines on
// a terminal and JSON otherwise.
//
// defaultLevel "" means no log at all unless --log-level asks for one: the
// one-shot commands say what happened through their summary.
func (env *cliEnv) logger(defaultLevel string) (*zap.Logger, error) {
	name := env.logLevel
	if name == "" {
		name = defaultLevel
	}
	if name == "" {
		return zap.NewNop(), nil
	}
	level, err := zapcore.ParseLevel(name)
	if err != nil {
		return nil, usageError{err: fmt.Errorf("--log-level: %w", err)}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if isTerminal(env.stderr) {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		if colour() {
			encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(env.stderr), level)
	if env.stderr == os.Stderr && systemd.UnderJournal() {
		core = systemd.JournalCore(level, core)
	}
	return zap.New(core), nil
}

// colour reports whether a terminal may get colour: not with NO_COLOR set
// (no-color.org) or TERM=dumb.
func colour() bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
