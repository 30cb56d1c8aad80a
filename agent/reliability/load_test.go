package reliability

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad starts 100 `sync` processes at once, with the service running
// beside them, for several rounds, each after a key rotation. A reader
// loop checks that authorized_keys and sshd's drop-in are always whole:
// present, and one of the round's two valid versions. The lock must make
// exactly one writer per change: at most one process per round reports the
// change (none when the service got there first). Every process must exit
// 0 within its deadline (no deadlock).
func TestLoad(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Load: 100 concurrent syncs plus the service")
	rounds, procs := scale(10, 1), 100
	tr := newTree(t, layoutDropIn)
	tr.config("disable", "poll_interval = \"100ms\"\n")
	srv, url := startIMDS(t)
	own := map[string]string{"alice": "# alice's own lines\n" + newKey(t, "alice-own").line + "\n"}
	tr.mkdir("home/alice/.ssh", 0o700)
	tr.write("home/alice/.ssh/authorized_keys", own["alice"], 0o600)
	tr.chown("home/alice/.ssh", aliceUID)
	tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
	files := []string{"home/alice/.ssh/authorized_keys", "home/bob/.ssh/authorized_keys"}
	bind(srv, newKey(t, "round-start"))
	args := tr.syncArgs(url, "alice", "bob")
	if o := runAgent(t, time.Minute, args...); o.status != 0 {
		t.Fatalf("first sync: status %d\n%s%s", o.status, o.stdout, o.stderr)
	}
	files = append(files, "etc/ssh/sshd_config.d/00-ecs-keyagent.conf")
	svc := startService(t, tr, url, "alice", "bob")

	var reads atomic.Int64
	var slowest time.Duration
	var mu sync.Mutex
	for round := range rounds {
		old := map[string]string{}
		for _, f := range files {
			old[f] = tr.read(f)
		}
		bind(srv, newKeys(t, 1+round%2)...)
		seen := map[string]map[string]bool{}
		for _, f := range files {
			seen[f] = map[string]bool{}
		}
		stop := make(chan struct{})
		var reader sync.WaitGroup
		reader.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, f := range files {
					data, err := os.ReadFile(tr.path(f))
					if err != nil {
						rec.lost("round %d: %s unreadable while syncs ran: %v", round, f, err)
						continue
					}
					seen[f][string(data)] = true
					reads.Add(1)
				}
			}
		})
		outs := make([]outcome, procs)
		var wg sync.WaitGroup
		for i := range procs {
			wg.Go(func() {
				outs[i] = runAgentSampled(t, 2*time.Minute, false, args...)
				mu.Lock()
				slowest = max(slowest, outs[i].elapsed)
				mu.Unlock()
			})
		}
		wg.Wait()
		close(stop)
		reader.Wait()
		writers := map[string]int{}
		for i, o := range outs {
			rec.run()
			rec.fault() // each process contends with 99 others and the service
			if o.status != 0 {
				rec.fail("round %d: process %d: status %d\n%s%s", round, i, o.status, o.stdout, o.stderr)
			}
			for _, u := range []string{"alice", "bob"} {
				if strings.Contains(o.stdout, u+": /home/"+u+"/.ssh/authorized_keys: updated") {
					writers[u]++
				}
			}
		}
		for u, n := range writers {
			if n > 1 {
				rec.fail("round %d: %d processes report writing %s's file: the lock let two writers in", round, n, u)
			}
		}
		for _, f := range files {
			now := tr.read(f)
			for content := range seen[f] {
				if content != old[f] && content != now {
					rec.lost("round %d: a reader saw %s neither old nor new:\n%q", round, f, content)
				}
			}
		}
		if u := "alice"; !strings.HasPrefix(tr.read(files[0]), own[u]) {
			rec.lost("round %d: alice's own lines are gone", round)
		}
		if left := tr.temps(); len(left) > 0 {
			rec.fail("round %d: temporary files left: %q", round, left)
		}
		if !svc.running() {
			rec.fail("round %d: the service exited:\n%s", round, svc.logTail())
		}
	}
	if status := svc.stop(t); status != 0 {
		rec.fail("service exit status %d after SIGTERM\n%s", status, svc.logTail())
	}
	if svc.panicked() {
		rec.fail("service log shows a panic:\n%s", svc.logTail())
	}
	rec.figure("processes", fmt.Sprintf("%d rounds x %d syncs, plus the service polling every 100 ms", rounds, procs))
	rec.figure("reads of the files while they ran", fmt.Sprint(reads.Load()))
	rec.figure("slowest sync under load", slowest.Round(time.Millisecond).String())
}
