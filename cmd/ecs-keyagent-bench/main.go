package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(rusageEnv) != "" {
		os.Exit(rusageMain(os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:])
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "ecs-keyagent-bench: error: %v\n", err)
		os.Exit(1)
	}
}

var allParts = []string{"sync", "large", "idle", "rotation", "startup", "size"}

// options are the command line.
type options struct {
	bin, out, gobench, gobenchCmd, baseline string
	parts                                   []string
	idle, idleFast                          time.Duration
	rotations, startups, runs               int
	largeLines, largeRuns                   int
	beforeBin, beforeRev, previous          string
}

// Run measures the parts asked for and writes the report.
func Run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("ecs-keyagent-bench", flag.ContinueOnError)
	fs.StringVar(&o.bin, "bin", "bin", "`dir`ectory holding ecs-keyagent and ecs-metadata-emulator, as `make build` leaves them")
	fs.StringVar(&o.out, "out", "docs/benchmarks.md", "report `file` to write")
	fs.StringVar(&o.gobench, "gobench", "", "benchstat output of the Go benchmarks to include (`file`)")
	fs.StringVar(&o.gobenchCmd, "gobench-cmd", "", "the `command` that produced --gobench, shown in the report")
	fs.StringVar(&o.baseline, "baseline", "docs/bench/baseline.sh", "the shell+curl baseline `script`")
	parts := fs.String("parts", strings.Join(allParts, ","), "comma-separated `list` of parts to run")
	fs.DurationVar(&o.idle, "idle", 10*time.Minute, "idle measurement at the default poll interval")
	fs.DurationVar(&o.idleFast, "idle-fast", time.Minute, "idle measurement at a 1 s poll interval")
	fs.IntVar(&o.rotations, "rotations", 100, "key rebinds for the rotation latency")
	fs.IntVar(&o.startups, "startups", 20, "starts of `run` per start-up case")
	fs.IntVar(&o.runs, "runs", 100, "hyperfine runs per command")
	fs.IntVar(&o.largeLines, "large-lines", 100000, "lines of the large authorized_keys file")
	fs.IntVar(&o.largeRuns, "large-runs", 10, "hyperfine runs per command on the large file")
	fs.StringVar(&o.beforeBin, "before-bin", "", "`dir`ectory holding an earlier build's ecs-keyagent, measured beside this one in the large and idle parts")
	fs.StringVar(&o.beforeRev, "before-rev", "before", "the earlier build's `name` in the report, such as its commit")
	fs.StringVar(&o.previous, "previous", "", "an earlier report (`file`) whose summary figures are shown beside the new ones")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("parse arguments: unexpected %q", fs.Arg(0))
	}
	o.parts = strings.Split(*parts, ",")
	for _, p := range o.parts {
		if !slices.Contains(allParts, p) {
			return fmt.Errorf("parse arguments: unknown part %q (parts: %s)", p, strings.Join(allParts, ", "))
		}
	}
	var err error
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if o.baseline, err = filepath.Abs(o.baseline); err != nil {
		return err
	}
	if o.beforeBin != "" {
		if o.beforeBin, err = filepath.Abs(o.beforeBin); err != nil {
			return err
		}
		if _, err := os.Stat(agentBin(o.beforeBin)); err != nil {
			return fmt.Errorf("find the earlier build: %w", err)
		}
	}
	for _, b := range []string{agentBin(o.bin), emulatorBin(o.bin)} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("find binary: %w (run `make build` first)", err)
		}
	}

	r := &report{opts: o, machine: describeMachine(), args: args}
	if o.previous != "" {
		b, err := os.ReadFile(o.previous)
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("read the previous report: %w", err)
		}
		r.previous = previousFigures(string(b))
	}
	if o.gobench != "" {
		b, err := os.ReadFile(o.gobench)
		if err != nil {
			return fmt.Errorf("read go benchmarks: %w", err)
		}
		r.gobench = string(b)
	}
	work, err := os.MkdirTemp("", "ecs-keyagent-bench.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	r.machine.scratchFS = fsType(work)

	steps := map[string]func(context.Context, string, *report) error{
		"sync": benchSync, "large": benchLarge, "idle": benchIdle, "rotation": benchRotation, "startup": benchStartup, "size": benchSize,
	}
	for _, p := range o.parts {
		logf("== %s", p)
		r.machine.loads = append(r.machine.loads, p+": "+loadAvg())
		dir := filepath.Join(work, p)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		if err := steps[p](ctx, dir, r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	r.machine.loadEnd = loadAvg()
	r.machine.end = time.Now().UTC()
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	logf("wrote %s", o.out)
	return nil
}

// logf shows progress on stderr; the figures go to the report.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ecs-keyagent-bench: "+format+"\n", args...)
}

func agentBin(dir string) string    { return filepath.Join(dir, "ecs-keyagent") }
func emulatorBin(dir string) string { return filepath.Join(dir, "ecs-metadata-emulator") }
