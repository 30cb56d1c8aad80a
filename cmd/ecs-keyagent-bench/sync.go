package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// hyperfineResult is one command's entry in hyperfine's --export-json.
type hyperfineResult struct {
	Command string    `json:"command"`
	Mean    float64   `json:"mean"`
	Stddev  float64   `json:"stddev"`
	Median  float64   `json:"median"`
	User    float64   `json:"user"`
	System  float64   `json:"system"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Times   []float64 `json:"times"`
}

// syncResult is the one-shot part of the report.
type syncResult struct {
	command string // the hyperfine command line, scratch paths as $WORK
	results []hyperfineResult
}

// benchSync times three one-shot commands in one hyperfine run, each on
// its own tree against the same emulator:
//
//   - the agent when the file is already right (the common case at every
//     boot and every cron run): no write;
//   - the agent after a rotation: the block holds an old key and is
//     rewritten (temporary file, fchown, fsync, rename, directory fsync);
//   - the baseline script from the same starting file.
func benchSync(ctx context.Context, dir string, r *report) error {
	emu, err := startEmulator(r.opts.bin, dir)
	if err != nil {
		return err
	}
	defer emu.close()
	old, err := newKeyLine("skp-old")
	if err != nil {
		return err
	}
	before := filepath.Join(dir, "authorized_keys.before")
	content := handKeys + keys.BeginMarker + "\n" + old + "\n" + keys.EndMarker + "\n"
	if err := os.WriteFile(before, []byte(content), 0o600); err != nil {
		return err
	}
	var trees []*tree
	for _, name := range []string{"unchanged", "changed", "baseline", "unchanged-before", "changed-before"} {
		t, err := newTree(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		trees = append(trees, t)
	}
	// The first sync of the "unchanged" tree brings it in step and turns
	// password login off; hyperfine's warm-up does the same for the others.
	first := trees[0].syncArgs(r.opts.bin, emu.url)
	if out, err := exec.CommandContext(ctx, first[0], first[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("first sync: %w\n%s", err, out)
	}

	jsonOut := filepath.Join(dir, "hyperfine.json")
	args := []string{"-N", "--warmup", "5", "--runs", strconv.Itoa(r.opts.runs), "--export-json", jsonOut, "--style", "basic",
		"-n", "ecs-keyagent sync, unchanged", "--prepare", "true",
		"-n", "ecs-keyagent sync, changed", "--prepare", "cp " + before + " " + trees[1].keys}
	cmds := []string{strings.Join(trees[0].syncArgs(r.opts.bin, emu.url), " "), strings.Join(trees[1].syncArgs(r.opts.bin, emu.url), " ")}
	if b := r.opts.beforeBin; b != "" { // the earlier build, on trees of its own; the baseline stays last
		first := trees[3].syncArgs(b, emu.url)
		if out, err := exec.CommandContext(ctx, first[0], first[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("first sync of the earlier build: %w\n%s", err, out)
		}
		args = append(args, "-n", "ecs-keyagent sync, unchanged ("+r.opts.beforeRev+")", "--prepare", "true",
			"-n", "ecs-keyagent sync, changed ("+r.opts.beforeRev+")", "--prepare", "cp "+before+" "+trees[4].keys)
		cmds = append(cmds, strings.Join(trees[3].syncArgs(b, emu.url), " "), strings.Join(trees[4].syncArgs(b, emu.url), " "))
	}
	args = append(args, "-n", "baseline.sh (sh + curl + mv)", "--prepare", "cp "+before+" "+trees[2].keys)
	args = append(append(args, cmds...), "sh "+r.opts.baseline+" "+emu.url+" "+trees[2].keys)
	cmd := exec.CommandContext(ctx, "hyperfine", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("hyperfine: %w", err)
	}
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		return err
	}
	var out struct {
		Results []hyperfineResult `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("read hyperfine results: %w", err)
	}
	r.sync = &syncResult{command: "hyperfine " + shellQuote(args), results: out.Results}
	r.sync.command = strings.ReplaceAll(r.sync.command, dir, "$WORK")
	r.sync.command = strings.ReplaceAll(r.sync.command, emu.url, "$URL")
	r.sync.command = strings.ReplaceAll(r.sync.command, r.opts.bin+"/", "bin/")
	r.sync.command = strings.ReplaceAll(r.sync.command, r.opts.baseline, "docs/bench/baseline.sh")
	if r.opts.beforeBin != "" {
		r.sync.command = strings.ReplaceAll(r.sync.command, r.opts.beforeBin+"/", "$BEFORE/")
	}
	return nil
}

// shellQuote joins args for a person to paste into sh.
func shellQuote(args []string) string {
	var q []string
	for _, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:$", r))
		}) < 0 {
			q = append(q, a)
			continue
		}
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(q, " ")
}
