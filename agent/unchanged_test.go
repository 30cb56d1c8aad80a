package agent

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/config"
	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

// A user's keys step kept between polls never hides a change: each change
// is made once the kept step is trusted (every stamp settled), so only the
// stamps can tell it is stale, and the next sync must act on it as a sync
// without the kept step would.
func TestKeptUserStepSeesChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(t *testing.T, tree *agenttest.Root, file string, imds *emulator.Server)
		changed bool   // the sync rewrites the file
		err     string // the user's error contains this
	}{
		{name: "hand edit inside the block, same size, mtime restored", changed: true,
			change: func(t *testing.T, tree *agenttest.Root, file string, imds *emulator.Server) {
				sameSizeEdit(t, file, func(b []byte) {
					begin := strings.Index(string(b), "# BEGIN ")
					i := begin + strings.Index(string(b[begin:]), "ssh-ed25519 ") + len("ssh-ed25519 ") + 20
					b[i] ^= 1 // one character of the bound key's base64, in the block
				})
			}},
		{name: "file made writable by others", err: "writable",
			change: func(t *testing.T, tree *agenttest.Root, file string, imds *emulator.Server) {
				if err := os.Chmod(file, 0o666); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "file replaced by a rename, same content and times", changed: true,
			change: func(t *testing.T, tree *agenttest.Root, file string, imds *emulator.Server) {
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(file)
				if err != nil {
					t.Fatal(err)
				}
				// Its block now holds a key no longer bound: only reading it tells.
				stale := strings.Replace(string(b), agenttest.KeyBody(agenttest.SeededKeyLine(t, 2)), agenttest.KeyBody(agenttest.SeededKeyLine(t, 3)), 1)
				tmp := file + ".new"
				if err := os.WriteFile(tmp, []byte(stale), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, file); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "~/.ssh replaced by a symbolic link", err: "symbolic link",
			change: func(t *testing.T, tree *agenttest.Root, file string, imds *emulator.Server) {
				dir := filepath.Dir(file)
				if err := os.Rename(dir, dir+"-real"); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Base(dir)+"-real", dir); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "another key bound", changed: true,
			change: func(t *testing.T, tree *agenttest.Root, file string, imds *emulator.Server) {
				imds.SetKeys(emulator.Key{ID: "skp-new", Body: agenttest.SeededKeyLine(t, 4)})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tree := agenttest.NewRoot(t)
			user := tree.AddUser("alice")
			tree.WriteKeys(user, "# mine\n"+agenttest.SeededKeyLine(t, 1)+" laptop\n")
			agenttest.Layout(t, tree.Dir, "ubuntu-cloud")
			imds := emulator.New()
			imds.SetAllDocument(true)
			imds.SetKeys(emulator.Key{ID: "skp-bound", Body: agenttest.SeededKeyLine(t, 2)})
			eng := servedEngine(t, tree.Dir, user.Name, imds)
			ctx := context.Background()
			file := tree.KeysFile(user)

			if r := eng.Sync(ctx); r.Outcome != OutcomeOK || !r.Users[0].Changed {
				t.Fatalf("first Sync: outcome %s, changed %v: %s", r.Outcome, r.Users[0].Changed, r.Error)
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(filestamp.Settle + 50*time.Millisecond)
			for i := range 2 {
				if r := eng.Sync(ctx); r.Outcome != OutcomeOK || r.Changed() {
					t.Fatalf("Sync %d with nothing changed: outcome %s, changed %v: %s", i+2, r.Outcome, r.Changed(), r.Error)
				}
			}
			if _, ok := eng.users[user.Name]; !ok {
				t.Fatal("the unchanged keys step is not kept")
			}

			tt.change(t, tree, file, imds)
			r := eng.Sync(ctx)
			u := r.Users[0]
			if tt.err != "" {
				if !strings.Contains(u.Error, tt.err) {
					t.Errorf("Sync after the change: user error %q, want one containing %q", u.Error, tt.err)
				}
				return
			}
			if u.Error != "" || u.Changed != tt.changed {
				t.Fatalf("Sync after the change: changed %v, error %q; want changed %v", u.Changed, u.Error, tt.changed)
			}
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name != "another key bound" && string(got) != string(want) {
				t.Errorf("authorized_keys after the sync:\n%s\nwant:\n%s", got, want)
			}
			if tt.name == "another key bound" && !strings.Contains(string(got), agenttest.KeyBody(agenttest.SeededKeyLine(t, 4))) {
				t.Errorf("authorized_keys after the sync lacks the new key:\n%s", got)
			}
		})
	}
}

// sameSizeEdit changes file in place with edit, which keeps its size, and
// puts its mtime back: only the ctime tells.
func sameSizeEdit(t *testing.T, file string, edit func([]byte)) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	if err := os.WriteFile(file, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(file); err != nil || after.Size() != fi.Size() || !after.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("the edit changed the size or mtime: %v", err)
	}
}

// The directory kept open for the last-sync time gives way to one put in
// its place: the time lands where `status` reads it.
func TestLastSyncDirReplaced(t *testing.T) {
	t.Parallel()
	tree := agenttest.NewRoot(t)
	user := tree.AddUser("alice")
	imds := emulator.New()
	imds.SetKeys(emulator.Key{ID: "skp-bound", Body: agenttest.SeededKeyLine(t, 2)})
	eng := servedEngine(t, tree.Dir, user.Name, imds)
	ctx := context.Background()
	eng.Sync(ctx)
	time.Sleep(filestamp.Settle + 50*time.Millisecond)
	if r := eng.Sync(ctx); r.Outcome != OutcomeOK {
		t.Fatalf("Sync: %s %s", r.Outcome, r.Error)
	}
	if eng.runDir == nil {
		t.Fatal("the last-sync directory is not kept open")
	}
	run := tree.Path(filepath.Dir(LastSyncPath))
	if err := os.Rename(run, run+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	r := eng.Sync(ctx)
	if got := LastSync(tree.Dir); !got.Equal(r.Time) {
		t.Errorf("LastSync after the directory was replaced = %v, want the sync's time %v", got, r.Time)
	}
}

// servedEngine is an engine for user under root whose metadata service is
// imds, served on loopback for as long as tb runs.
func servedEngine(tb testing.TB, root, user string, imds *emulator.Server) *Engine {
	tb.Helper()
	hs := httptest.NewServer(imds)
	tb.Cleanup(hs.Close)
	cfg := config.Default()
	cfg.Endpoint, cfg.Users = metadata.Endpoint(hs.URL), []string{user}
	eng := NewEngine(Options{Config: cfg, Root: root})
	tb.Cleanup(eng.Close)
	return eng
}
