package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// largeResult is the large-file part of the report.
type largeResult struct {
	lines   int
	bytes   int
	command string // the hyperfine command line, scratch paths as $WORK
	results []hyperfineResult
	peaks   []peakResult // in the order of results
	floor   int64        // KiB, ru_maxrss of true through measure's runner
}

// peakResult is the worst of a few runs of one command, measured by the
// kernel: peak resident memory (ru_maxrss) and CPU time (user + system,
// summed over every thread).
type peakResult struct {
	maxRSS int64 // KiB
	cpu    time.Duration
	runs   int
}

// Names of the large part's commands, in hyperfine's order.
const (
	largeUnchanged = "ecs-keyagent sync, unchanged"
	largeChanged   = "ecs-keyagent sync, changed"
	largeKeygen    = "ssh-keygen -lf"
)

// peakRuns is how many times each large-file command runs outside
// hyperfine to read its peak memory.
const peakRuns = 5

// benchLarge times `ecs-keyagent sync` on an authorized_keys file of
// -large-lines lines as users grow them, side by side in one hyperfine run
// with `ssh-keygen -lf` on the same file (which reads and parses every
// key, as sshd does at a logon):
//
//   - unchanged: the managed block already holds the bound key;
//   - changed: --prepare puts back a block holding an old key, so each run
//     rewrites the file.
//
// Then it runs each command peakRuns more times on its own to read peak
// resident memory and CPU time from wait4's rusage (see measure).
func benchLarge(ctx context.Context, dir string, r *report) error {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		return fmt.Errorf("the large-file part compares with ssh-keygen: %w (Debian: apt-get install openssh-client)", err)
	}
	emu, err := startEmulator(r.opts.bin, dir)
	if err != nil {
		return err
	}
	defer emu.close()
	old, err := newKeyLine("skp-old")
	if err != nil {
		return err
	}
	content, err := largeFile(r.opts.largeLines, keys.BeginMarker+"\n"+old+"\n"+keys.EndMarker+"\n")
	if err != nil {
		return err
	}
	before := filepath.Join(dir, "authorized_keys.before")
	if err := os.WriteFile(before, content, 0o600); err != nil {
		return err
	}
	var trees []*tree
	for _, name := range []string{"unchanged", "changed"} {
		t, err := newTree(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(t.keys, content, 0o600); err != nil {
			return err
		}
		trees = append(trees, t)
	}
	// The first sync brings the "unchanged" tree in step: from then on its
	// block holds the bound key and every sync finds nothing to do.
	first := trees[0].syncArgs(r.opts.bin, emu.url)
	if out, err := exec.CommandContext(ctx, first[0], first[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("first sync: %w\n%s", err, out)
	}
	prepare := "cp " + before + " " + trees[1].keys
	cmds := []struct {
		name, prepare string
		args          []string
	}{
		{largeUnchanged, "true", trees[0].syncArgs(r.opts.bin, emu.url)},
		{largeChanged, prepare, trees[1].syncArgs(r.opts.bin, emu.url)},
		{largeKeygen, "true", []string{"ssh-keygen", "-lf", trees[0].keys}},
	}
	if b := r.opts.beforeBin; b != "" { // the earlier build, on the same trees
		cmds = append(cmds,
			struct {
				name, prepare string
				args          []string
			}{largeUnchanged + " (" + r.opts.beforeRev + ")", "true", trees[0].syncArgs(b, emu.url)},
			struct {
				name, prepare string
				args          []string
			}{largeChanged + " (" + r.opts.beforeRev + ")", prepare, trees[1].syncArgs(b, emu.url)})
	}

	jsonOut := filepath.Join(dir, "hyperfine.json")
	args := []string{"-N", "--warmup", "2", "--runs", strconv.Itoa(r.opts.largeRuns), "--export-json", jsonOut, "--style", "basic"}
	for _, c := range cmds {
		args = append(args, "-n", c.name, "--prepare", c.prepare)
	}
	for _, c := range cmds {
		args = append(args, strings.Join(c.args, " "))
	}
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
	res := &largeResult{lines: r.opts.largeLines, bytes: len(content), results: out.Results}
	for _, c := range cmds {
		var p peakResult
		for range peakRuns {
			if c.prepare != "true" {
				if err := exec.CommandContext(ctx, "sh", "-c", c.prepare).Run(); err != nil {
					return fmt.Errorf("prepare %s: %w", c.name, err)
				}
			}
			u, err := measure(ctx, c.args)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			p.maxRSS, p.cpu = max(p.maxRSS, u.MaxRSS), max(p.cpu, time.Duration(u.CPU))
			p.runs++
		}
		res.peaks = append(res.peaks, p)
	}
	floor, err := measure(ctx, []string{"true"})
	if err != nil {
		return err
	}
	res.floor = floor.MaxRSS
	res.command = "hyperfine " + shellQuote(args)
	res.command = strings.ReplaceAll(res.command, dir, "$WORK")
	res.command = strings.ReplaceAll(res.command, emu.url, "$URL")
	res.command = strings.ReplaceAll(res.command, r.opts.bin+"/", "bin/")
	if r.opts.beforeBin != "" {
		res.command = strings.ReplaceAll(res.command, r.opts.beforeBin+"/", "$BEFORE/")
	}
	r.large = res
	return nil
}

// largeFile is an authorized_keys file of n lines as users grow them, the
// same shape as keys.BenchmarkFileSync's: their own ed25519 keys with
// comments, a comment line and a blank line every 50 lines, and block (the
// managed block) in the middle.
func largeFile(n int, block string) ([]byte, error) {
	var own [200]string // distinct keys, repeated: deriving 100,000 is slow
	for i := range own {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i), 0xbe
		pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
		if err != nil {
			return nil, err
		}
		own[i] = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
	}
	var sb strings.Builder
	for i := range n {
		switch {
		case i == n/2:
			sb.WriteString(block)
		case i%50 == 1:
			fmt.Fprintf(&sb, "# team key %d\n", i)
		case i%50 == 2:
			sb.WriteString("\n")
		default:
			fmt.Fprintf(&sb, "%s user-%d@laptop\n", own[i%len(own)], i)
		}
	}
	return []byte(sb.String()), nil
}

// largeRow finds a command's result and peak by name.
func (l *largeResult) row(name string) (hyperfineResult, peakResult, bool) {
	for i, h := range l.results {
		if h.Command == name && i < len(l.peaks) {
			return h, l.peaks[i], true
		}
	}
	return hyperfineResult{}, peakResult{}, false
}
