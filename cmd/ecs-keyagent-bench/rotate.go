package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// rotationInterval is the poll interval of the rotation part.
const rotationInterval = time.Second

// rotationResult is the latency from a rebind to the new key in place.
type rotationResult struct {
	interval  time.Duration
	latencies []time.Duration // sorted
	missed    int             // rebinds not seen within 10 intervals
}

func (r rotationResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latencies))+0.5) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// benchRotation rebinds a fresh key in the emulator, then waits, watching
// ~/.ssh with inotify, for authorized_keys to hold it. Before each rebind
// it sleeps a random part of the interval, so rebinds fall at random
// points of the poll cycle, as a console change does.
func benchRotation(ctx context.Context, dir string, r *report) error {
	t, err := newTree(dir)
	if err != nil {
		return err
	}
	if err := t.setPollInterval(rotationInterval); err != nil {
		return err
	}
	emu, err := startEmulator(r.opts.bin, dir)
	if err != nil {
		return err
	}
	defer emu.close()
	cmd := t.runCmd(r.opts.bin, emu.url, "")
	logFile, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer stop(cmd) //nolint:errcheck // figures are taken; a stop failure shows in the log

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(t.keys)); err != nil {
		return err
	}
	res := rotationResult{interval: rotationInterval}
	for i := range r.opts.rotations {
		time.Sleep(rand.N(rotationInterval))
		line, err := newKeyLine(fmt.Sprintf("rotation-%d", i))
		if err != nil {
			return err
		}
		needle := []byte(strings.Fields(line)[1])
		if err := emu.bind(ctx, line); err != nil {
			return err
		}
		bound := time.Now()
		landed, err := waitLanded(ctx, w, t.keys, needle, 10*rotationInterval)
		if err != nil {
			return err
		}
		if landed.IsZero() {
			res.missed++
			continue
		}
		res.latencies = append(res.latencies, landed.Sub(bound))
		if (i+1)%20 == 0 {
			logf("rotation: %d/%d", i+1, r.opts.rotations)
		}
	}
	slices.Sort(res.latencies)
	r.rotation = &res
	return nil
}

// waitLanded returns when path first holds needle, checked on every event
// in its directory (the agent renames its temporary file over it) and every
// 10 ms in case an event was missed; the zero time after timeout.
func waitLanded(ctx context.Context, w *fsnotify.Watcher, path string, needle []byte, timeout time.Duration) (time.Time, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, needle) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-deadline:
			return time.Time{}, nil
		case err := <-w.Errors:
			return time.Time{}, fmt.Errorf("watch %s: %w", path, err)
		case <-w.Events:
		case <-tick.C:
		}
	}
}
