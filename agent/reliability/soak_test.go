package reliability

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// soakDuration is the long run's length: ECS_KEYAGENT_SOAK if set (a Go
// duration), else 10 minutes in full mode and 15 seconds otherwise.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("ECS_KEYAGENT_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("ECS_KEYAGENT_SOAK: %v", err)
		}
		return d
	}
	return map[bool]time.Duration{true: 10 * time.Minute, false: 15 * time.Second}[full()]
}

// randomFault is one of the metadata faults the long run injects, for
// one to three requests.
func randomFault() (string, emulator.Fault, string) {
	paths := []string{listingPath, key0Path, tokenPath, "/latest/meta-data/instance-id"}
	p := paths[rand.IntN(len(paths))]
	times := 1 + rand.IntN(3)
	faults := []struct {
		name string
		f    emulator.Fault
	}{
		{"500", emulator.Fault{Status: 500}},
		{"401", emulator.Fault{Status: 401}},
		{"404", emulator.Fault{Status: 404}},
		{"reset mid-body", emulator.Fault{Drop: true}},
		{"delay past the timeout", emulator.Fault{Delay: 3 * time.Second}},
		{"drip", emulator.Fault{Drip: 50 * time.Millisecond}},
		{"1 MiB body", emulator.Fault{BodySize: 1 << 20}},
		{"redirect", emulator.Fault{RedirectTo: "http://192.0.2.1/"}},
		{"garbage body", emulator.Fault{Body: []byte("../\x00\xff\n")}},
	}
	f := faults[rand.IntN(len(faults))]
	f.f.Times = times
	return p, f.f, f.name
}

// TestSoak runs the service polling every 100 ms against an emulator that
// rotates the bound keys and injects random faults, and checks: every
// rotation reaches authorized_keys, alice's own lines stay, memory is flat
// and neither threads nor file descriptors grow. `make soak` runs it for 10
// minutes; CI for 15 seconds.
func TestSoak(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Long run: the service polling at 100 ms, rotations and faults")
	dur := soakDuration(t)
	tr := newTree(t, layoutDropIn)
	tr.config("disable", "poll_interval = \"100ms\"\n")
	srv, url := startIMDS(t)
	own := "# alice's own lines\n" + newKey(t, "alice-own").line + "\n"
	tr.mkdir("home/alice/.ssh", 0o700)
	tr.write("home/alice/.ssh/authorized_keys", own, 0o600)
	tr.chown("home/alice/.ssh", aliceUID)
	tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
	bind(srv, newKey(t, "start"))
	svc := startService(t, tr, url, "alice")

	var samples []procSample
	var rotations, applied int
	var slowest time.Duration
	faultNames := map[string]int{}
	end := time.Now().Add(dur)
	for time.Now().Before(end) && svc.running() {
		ks := newKeys(t, 1+rand.IntN(2))
		bind(srv, ks...)
		rotations++
		rec.run()
		if rand.IntN(2) == 0 {
			p, f, name := randomFault()
			srv.SetFault(p, f)
			faultNames[name]++
			rec.fault()
		}
		start := time.Now()
		deadline := start.Add(60 * time.Second)
		for {
			got := tr.read("home/alice/.ssh/authorized_keys")
			if allIn(got, ks) {
				applied++
				slowest = max(slowest, time.Since(start))
				break
			}
			if time.Now().After(deadline) || !svc.running() {
				rec.fail("rotation %d not applied within 60 s:\n%s\nservice log:\n%s", rotations, got, svc.logTail())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.HasPrefix(tr.read("home/alice/.ssh/authorized_keys"), own) {
			rec.lost("rotation %d: alice's own lines are gone", rotations)
		}
		// Let it poll with nothing to change, as most of a real service's life.
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		srv.ClearFaults()
		samples = append(samples, svc.sample())
	}
	if !svc.running() {
		rec.fail("the service exited during the run:\n%s", svc.logTail())
	}
	if status := svc.stop(t); status != 0 {
		rec.fail("service exit status %d after SIGTERM\n%s", status, svc.logTail())
	}
	if svc.panicked() {
		rec.fail("service log shows a panic:\n%s", svc.logTail())
	}
	if left := tr.temps(); len(left) > 0 {
		rec.fail("temporary files left: %q", left)
	}
	first, last := window(samples, true), window(samples, false)
	t.Logf("%d rotations, %d applied; first %+v last %+v", rotations, applied, first, last)
	// Flat, with room for the Go runtime's own breathing: no leak grows
	// by half in a run, and one fd or thread per poll would show in hundreds.
	if last.rss > first.rss*3/2+4<<10 {
		rec.fail("memory grew: VmRSS %d KiB at the start, %d KiB at the end", first.rss, last.rss)
	}
	if last.fds > first.fds+4 {
		rec.fail("file descriptors grew: %d -> %d", first.fds, last.fds)
	}
	if last.threads > first.threads+4 {
		rec.fail("threads grew: %d -> %d", first.threads, last.threads)
	}
	var names []string
	for n, c := range faultNames {
		names = append(names, fmt.Sprintf("%s x%d", n, c))
	}
	slices.Sort(names)
	rec.figure("duration", dur.String())
	rec.figure("rotations applied", fmt.Sprintf("%d of %d (slowest %v)", applied, rotations, slowest.Round(time.Millisecond)))
	rec.figure("VmRSS first / last (median of each tenth)", fmt.Sprintf("%.1f / %.1f MiB", float64(first.rss)/1024, float64(last.rss)/1024))
	rec.figure("open fds first / last (fewest of each tenth: between syncs)", fmt.Sprintf("%d / %d", first.fds, last.fds))
	rec.figure("open fds first / last (most of each tenth: a sync in progress included)", fmt.Sprintf("%d / %d", first.fdPeak, last.fdPeak))
	extra := "none"
	if e := extraFDs(first, last); len(e) > 0 {
		extra = strings.Join(e, ", ")
	}
	rec.figure("fds open between syncs at the end, not at the start", extra)
	rec.figure("threads first / last", fmt.Sprintf("%d / %d (goroutines are not visible from outside; threads and fds are)", first.threads, last.threads))
	rec.figure("faults injected", strings.Join(names, ", "))
}

// allIn reports whether every key's line is in content.
func allIn(content string, ks []key) bool {
	for _, k := range ks {
		if !strings.Contains(content, k.line) {
			return false
		}
	}
	return true
}

// window returns the median sample of the first or last tenth (at least one).
func window(s []procSample, first bool) procSample {
	if len(s) == 0 {
		return procSample{}
	}
	n := max(1, len(s)/10)
	w := slices.Clone(s[len(s)-n:])
	if first {
		w = slices.Clone(s[:n])
	}
	slices.SortFunc(w, func(a, b procSample) int { return int(a.rss - b.rss) })
	m := w[len(w)/2]
	// fds: the fewest of the window, open between syncs (a sample taken during
	// a sync also sees the lock file, directories, a temporary file or a second
	// connection), and which they are; the most, as fdPeak. Threads: the most.
	fewest := w[0]
	for _, x := range w {
		if x.fds < fewest.fds {
			fewest = x
		}
		m.fdPeak, m.threads = max(m.fdPeak, x.fds), max(m.threads, x.threads)
	}
	m.fds, m.fdNames = fewest.fds, fewest.fdNames
	return m
}

// extraFDs lists what last has open that first has not, by name.
func extraFDs(first, last procSample) []string {
	left := map[string]int{}
	for _, n := range first.fdNames {
		left[n]++
	}
	var extra []string
	for _, n := range last.fdNames {
		if left[n] > 0 {
			left[n]--
			continue
		}
		extra = append(extra, n)
	}
	return extra
}
