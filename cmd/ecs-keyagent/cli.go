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
)

// usageError marks mistakes on the command line or in the configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries an exit status after the report was printed.
type exitError struct {
	status int
	err    error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// command is one subcommand: its flags are set up by flags, then run executes it.
type command struct {
	name, usage, short string
	run                func(ctx context.Context, env *cliEnv, fs *flag.FlagSet, args []string) error
}

var commands = []*command{syncCmd, runCmd, statusCmd, restoreCmd, checkConfigCmd, versionCmd}

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
		if ee.err != nil {
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
	global.SetOutput(env.stderr)
	global.StringVar(&env.logLevel, "log-level", "", "log level: debug, info, warn or error")
	global.Usage = func() { env.usage() }
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if global.NArg() == 0 {
		env.usage()
		return usageError{errors.New("no command given")}
	}
	name, rest := global.Arg(0), global.Args()[1:]
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, env, env.newFlagSet(c), rest)
		}
	}
	return usageError{fmt.Errorf("unknown command %q; see 'ecs-keyagent -h'", name)}
}

// logger builds the zap logger: native journal entries when stderr is the
// journal (JOURNAL_STREAM names it, systemd.exec(5)), else console lines on
// a terminal and JSON otherwise.
func (env *cliEnv) logger(defaultLevel string) (*zap.Logger, error) {
	name := env.logLevel
	if name == "" {
		name = defaultLevel
	}
	level, err := zapcore.ParseLevel(name)
	if err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if isTerminal(env.stderr) {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
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

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
