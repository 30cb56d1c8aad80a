package service

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

const instanceIDPath = "/latest/meta-data/instance-id"

// Metadata refused for the first attempts of boot, then answering: READY=1
// comes after the first successful sync, not before, and nothing was
// written while metadata was down.
func TestServiceBootWaitsForMetadata(t *testing.T) {
	f := newFixture(t, "alice")
	userLine := newKey(t, "alice@laptop")
	f.writeKeys("alice", userLine+"\n")
	before := fileID(t, f.keysFile("alice"))
	k1 := newKey(t, "k1")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})
	f.imds.SetFault(instanceIDPath, emulator.Fault{Status: http.StatusServiceUnavailable})
	f.start()

	f.eventually("three failed boot attempts", func() bool { return f.requests(instanceIDPath) >= 3 })
	early := f.drainNotes()
	for _, n := range early {
		if isReady(n) {
			t.Fatalf("READY=1 while metadata answered only 503")
		}
	}
	if got := fileID(t, f.keysFile("alice")); got != before {
		t.Errorf("authorized_keys written while metadata was down: %s, before %s", got, before)
	}
	f.imds.ClearFaults()
	_, notes := f.waitNote("READY=1", isReady)
	if got := f.read(f.keysFile("alice")); !strings.Contains(got, keyBody(k1)) || !strings.Contains(got, userLine) {
		t.Errorf("at READY=1 authorized_keys = %q, want the bound key and the user's", got)
	}
	if notes = append(early, notes...); !hasPrefix(notes, "STATUS=waiting for the metadata service; failing since") {
		t.Errorf("notifications before READY=1 = %q, want a STATUS saying it is waiting", notes)
	}
}

// Metadata never answering: READY=1 at the boot deadline, retries go on,
// nothing is written.
func TestServiceReadyAtBootDeadline(t *testing.T) {
	f := newFixture(t, "alice")
	f.cfg.BootTimeout.Duration = 300 * time.Millisecond
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: newKey(t, "k1")})
	f.imds.SetFault(instanceIDPath, emulator.Fault{Status: http.StatusInternalServerError})
	f.start()

	f.waitNote("READY=1", isReady)
	n := f.requests(instanceIDPath)
	f.eventually("retries after READY=1", func() bool { return f.requests(instanceIDPath) > n })
	if _, err := os.Lstat(filepath.Join(f.home("alice"), ".ssh")); !os.IsNotExist(err) {
		t.Errorf("~/.ssh exists after syncs that never reached metadata: %v", err)
	}
}

// A key rebound while running reaches the file within a poll interval; the
// old one goes, the user's stay; detaching removes the block.
func TestServiceRotation(t *testing.T) {
	f := newFixture(t, "alice")
	f.cfg.PollInterval.Duration = 200 * time.Millisecond
	userLine := newKey(t, "alice@laptop")
	f.writeKeys("alice", "# mine\n"+userLine+"\n")
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})
	f.start()

	file := f.keysFile("alice")
	f.eventually("k1 installed", func() bool { return strings.Contains(f.read(file), keyBody(k1)) })
	f.imds.SetKeys(emulator.Key{ID: "skp-2", Body: k2})
	f.eventually("k2 replaces k1", func() bool {
		got := f.read(file)
		return strings.Contains(got, keyBody(k2)) && !strings.Contains(got, keyBody(k1))
	})
	if got := f.read(file); !strings.HasPrefix(got, "# mine\n"+userLine+"\n") {
		t.Errorf("after rebinding authorized_keys = %q, want the user's lines first and intact", got)
	}
	f.imds.SetKeys()
	f.eventually("block removed on detach", func() bool { return !strings.Contains(f.read(file), "ecs-keyagent") })
	if got, want := f.read(file), "# mine\n"+userLine+"\n"; got != want {
		t.Errorf("after detaching authorized_keys = %q, want %q", got, want)
	}
}

// Drift: whatever a person does to the block, the file or ~/.ssh is put
// right by the file watch alone (the poll interval is an hour); a key the
// user adds outside the block causes no write.
func TestServiceDriftRepair(t *testing.T) {
	f := newFixture(t, "alice")
	k1 := newKey(t, "k1")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})
	f.start()
	f.waitNote("READY=1", isReady)
	file := f.keysFile("alice")
	dir := filepath.Dir(file)
	repaired := func() bool { return strings.Contains(f.read(file), keyBody(k1)) }
	if !repaired() {
		t.Fatalf("after READY=1 authorized_keys = %q, want k1", f.read(file))
	}
	userLine := newKey(t, "alice@laptop")

	steps := []struct {
		name  string
		drift func() error
	}{
		// First, so the later steps prove the recreated ~/.ssh is watched.
		{"~/.ssh deleted", func() error { return os.RemoveAll(dir) }},
		{"block deleted by hand", func() error { return os.WriteFile(file, []byte(userLine+"\n"), 0o600) }},
		{"block edited by hand", func() error {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			return os.WriteFile(file, []byte(strings.Replace(string(b), keyBody(k1), keyBody(newKey(t, "x")), 1)), 0o600)
		}},
		{"file deleted", func() error { return os.Remove(file) }},
		{"file replaced", func() error {
			tmp := filepath.Join(dir, "new")
			if err := os.WriteFile(tmp, []byte(userLine+"\n"), 0o600); err != nil {
				return err
			}
			if err := os.Chown(tmp, f.users["alice"].UID, f.users["alice"].GID); err != nil {
				return err
			}
			return os.Rename(tmp, file)
		}},
	}
	for _, s := range steps {
		if err := s.drift(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		f.eventually(s.name+": repaired", repaired)
	}

	// A key added outside the block: a sync runs (it records its time)
	// and authorized_keys is not written.
	f.eventually("syncs settled", func() bool {
		last := agent.LastSync(f.root)
		time.Sleep(time.Second)
		return agent.LastSync(f.root).Equal(last)
	})
	synced := agent.LastSync(f.root)
	fh, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(newKey(t, "alice@desktop") + "\n")
	fh.Close()
	added := fileID(t, file)
	f.eventually("a sync after the user's edit", func() bool { return agent.LastSync(f.root).After(synced) })
	if got := fileID(t, file); got != added {
		t.Errorf("a key added outside the block made the agent write: inode and mtime %s, after the edit %s", got, added)
	}
}

// A reload (SIGHUP) re-reads the configuration and syncs now: a user added
// to the configuration and a key rebound both land without a poll, and
// systemd hears RELOADING=1 then READY=1 around it.
func TestServiceReload(t *testing.T) {
	f := newFixture(t, "alice")
	f.addUser("bob")
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: k1})
	var reloads atomic.Int32
	next := f.cfg
	next.Users = []string{"alice", "bob"}
	f.start(func(o *Options) {
		o.LoadConfig = func() (config.Config, error) { reloads.Add(1); return next, nil }
	})
	f.waitNote("READY=1", isReady)

	f.imds.SetKeys(emulator.Key{ID: "skp-2", Body: k2})
	f.drainNotes()
	f.reload <- struct{}{}
	f.waitNote("RELOADING=1", func(n string) bool { return strings.HasPrefix(n, "RELOADING=1\nMONOTONIC_USEC=") })
	f.waitNote("READY=1 after the reload", isReady)
	// READY=1 comes after the reload's sync: the files are in place now.
	if !strings.Contains(f.read(f.keysFile("alice")), keyBody(k2)) || !strings.Contains(f.read(f.keysFile("bob")), keyBody(k2)) {
		t.Errorf("READY=1 before k2 landed for alice and bob")
	}
	if reloads.Load() != 1 {
		t.Errorf("configuration read %d times, want 1", reloads.Load())
	}
}

// Cancelling the context (main does on SIGTERM and SIGINT) stops the
// service: STOPPING=1, and Run returns nil.
func TestServiceStop(t *testing.T) {
	f := newFixture(t, "alice")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: newKey(t, "k1")})
	f.start()
	f.waitNote("READY=1", isReady)
	f.cancel(errors.New("received terminated"))
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
		f.done <- nil // for the cleanup
	case <-time.After(wait):
		t.Fatalf("still running after cancel")
	}
	f.waitNote("STOPPING=1", func(n string) bool { return n == "STOPPING=1" })
}

// WATCHDOG=1 goes out while the loop comes round, stops while it is wedged,
// and resumes when it is not.
func TestServiceWatchdog(t *testing.T) {
	f := newFixture(t, "alice")
	f.imds.SetKeys(emulator.Key{ID: "skp-1", Body: newKey(t, "k1")})
	const wd = 200 * time.Millisecond
	var wedged atomic.Bool
	inside := make(chan struct{}, 1)
	release := make(chan struct{})
	f.hook = func() {
		if wedged.Load() {
			select {
			case inside <- struct{}{}:
			default:
			}
			<-release
		}
	}
	f.start(func(o *Options) { o.Watchdog = wd })
	isPing := func(n string) bool { return n == "WATCHDOG=1" }
	f.waitNote("WATCHDOG=1", isPing)

	wedged.Store(true)
	<-inside
	time.Sleep(2 * wd) // a ping decided before the wedge may still arrive
	f.drainNotes()
	time.Sleep(5 * wd)
	for _, n := range f.drainNotes() {
		if isPing(n) {
			t.Fatalf("WATCHDOG=1 while the loop was wedged")
		}
	}
	wedged.Store(false)
	close(release)
	f.waitNote("WATCHDOG=1 after the loop came back", isPing)
}

func hasPrefix(notes []string, prefix string) bool {
	for _, n := range notes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
