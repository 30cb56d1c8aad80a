package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// tracked are the files a sync rewrites, relative to the root.
var tracked = []string{
	"home/alice/.ssh/authorized_keys",
	"etc/ssh/sshd_config",
	"etc/ssh/sshd_config.d/00-ecs-keyagent.conf",
}

// fileState is one tracked file as a kill may leave it.
type fileState struct {
	exists bool
	data   string
	mode   os.FileMode
	uid    uint32
}

func (f fileState) String() string {
	if !f.exists {
		return "absent"
	}
	return fmt.Sprintf("%d bytes mode %v uid %d %q", len(f.data), f.mode, f.uid, f.data)
}

func readState(t testing.TB, tr *tree) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	for _, rel := range tracked {
		fi, err := os.Lstat(tr.path(rel))
		if os.IsNotExist(err) {
			out[rel] = fileState{}
			continue
		}
		must(t, err)
		data, err := os.ReadFile(tr.path(rel))
		must(t, err)
		out[rel] = fileState{exists: true, data: string(data), mode: fi.Mode(), uid: fi.Sys().(*syscall.Stat_t).Uid}
	}
	return out
}

// TestCrashKill kills `ecs-keyagent sync` with SIGKILL at a random moment
// while it rewrites authorized_keys and sshd's configuration, then checks
// that every file is wholly the old or wholly the new version with the
// right mode and owner, and that the next sync converges and leaves no
// temporary file. Each run changes the bound keys and flips the sshd mode
// between disable and keep, so every sync has writes to make.
func TestCrashKill(t *testing.T) {
	needRoot(t)
	rec := newRecord(t, "Crash consistency: SIGKILL during sync")
	runs := scale(500, 40)
	var killed, tempsSeen, completed int
	for _, layout := range []struct{ name, config string }{
		{"drop-in", layoutDropIn},
		{"main-file", layoutMain},
	} {
		t.Run(layout.name, func(t *testing.T) {
			k, c, ts := crashLayout(t, rec, layout.config, runs/2)
			killed += k
			completed += c
			tempsSeen += ts
		})
	}
	rec.figure("runs killed mid-sync", fmt.Sprint(killed))
	rec.figure("runs that finished before the kill", fmt.Sprint(completed))
	rec.figure("kills that left a temporary file (removed by the next sync)", fmt.Sprint(tempsSeen))
}

func crashLayout(t *testing.T, rec *record, sshdConfig string, runs int) (killed, completed, temps int) {
	tr := newTree(t, sshdConfig)
	srv, url := startIMDS(t)
	ks := newKeys(t, 4)
	sets := [][]key{{ks[0]}, {ks[1], ks[2]}, {ks[3]}}
	own := newKey(t, "alice-own")
	tr.mkdir("home/alice/.ssh", 0o700)
	tr.write("home/alice/.ssh/authorized_keys", "# alice's own lines\n"+own.line+"\n", 0o600)
	tr.chown("home/alice/.ssh", aliceUID)
	tr.chown("home/alice/.ssh/authorized_keys", aliceUID)
	args := tr.syncArgs(url, "alice")

	converge := func(i int) (map[string]fileState, time.Duration) {
		t.Helper()
		o := runAgent(t, time.Minute, args...)
		if o.status != 0 {
			rec.fail("run %d: sync after the kill: status %d, want 0\n%s%s", i, o.status, o.stdout, o.stderr)
		}
		if left := tr.temps(); len(left) > 0 {
			rec.fail("run %d: temporary files left after a converging sync: %q", i, left)
		}
		return readState(t, tr), o.elapsed
	}
	setState := func(i int) {
		bind(srv, sets[i%3]...)
		if i%2 == 0 {
			tr.config("disable")
		} else {
			tr.config("keep")
		}
	}

	setState(0)
	old, d := converge(-1)
	window := d
	for i := 1; i <= runs; i++ {
		setState(i)
		rec.run()
		cmd := exec.Command(agentBin(t), args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		must(t, cmd.Start())
		time.Sleep(time.Duration(rand.Int64N(int64(window) * 6 / 5)))
		cmd.Process.Kill()
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
			rec.fault()
		} else if err == nil {
			completed++
		} else {
			rec.fail("run %d: sync exited %v before the kill:\n%s", i, err, out.String())
		}
		if len(tr.temps()) > 0 {
			temps++
		}
		mid := readState(t, tr)
		checkState(t, tr)
		next, d := converge(i)
		window = (window*7 + d) / 8 // follow the sync's real duration
		for _, rel := range tracked {
			m := mid[rel]
			if m != old[rel] && m != next[rel] {
				rec.lost("run %d: %s after SIGKILL is neither the old nor the new version:\n got  %v\n old  %v\n new  %v", i, rel, m, old[rel], next[rel])
			}
		}
		old = next
	}
	return killed, completed, temps
}

// checkState checks the state file a kill may leave: absent or whole JSON.
func checkState(t *testing.T, tr *tree) {
	data, err := os.ReadFile(tr.path("var/lib/ecs-keyagent/state.json"))
	if err == nil && !json.Valid(data) {
		t.Errorf("state.json after SIGKILL is not whole JSON: %q", data)
	}
}
