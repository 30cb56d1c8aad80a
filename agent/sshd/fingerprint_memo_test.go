package sshd

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/filestamp"
)

// Step's kept fingerprint is the one Fingerprint computes, after every kind
// of change to the files and directories sshd reads. Each change is made
// once the kept fingerprint is trusted (its stamps settled), so that only
// the stamps can tell it is stale.
func TestStepFingerprintSeesChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// change edits the tree under root; same says the content sshd
		// reads stays the same, so the fingerprint must not change.
		change func(t *testing.T, root string)
		same   bool
	}{
		{name: "drop-in added to an included directory", change: func(t *testing.T, root string) {
			putFile(t, root, "etc/ssh/sshd_config.d/10-new.conf", "PasswordAuthentication no\n")
		}},
		{name: "included drop-in edited, same size, mtime restored", change: func(t *testing.T, root string) {
			sameSize(t, root, "etc/ssh/sshd_config.d/50-cloud-init.conf", "PasswordAuthentication no!\n")
		}},
		{name: "main file edited, same size, mtime restored", change: func(t *testing.T, root string) {
			p := "etc/ssh/sshd_config"
			b, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-2] ^= 1 // the last byte before the final newline
			sameSize(t, root, p, string(b))
		}},
		{name: "main file replaced by a rename", change: func(t *testing.T, root string) {
			putFile(t, root, "etc/ssh/sshd_config.new", "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n")
			renameFile(t, root, "etc/ssh/sshd_config.new", "etc/ssh/sshd_config")
		}},
		{name: "included file's symbolic link retargeted", change: func(t *testing.T, root string) {
			putFile(t, root, "etc/ssh/other.conf", "PasswordAuthentication no\n")
			link := filepath.Join(root, "etc/ssh/sshd_config.d/60-link.conf")
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../other.conf", link); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "included file's target replaced by a rename", change: func(t *testing.T, root string) {
			putFile(t, root, "etc/ssh/target.new", "PasswordAuthentication ye\n")
			renameFile(t, root, "etc/ssh/target.new", "etc/ssh/target.conf")
		}},
		{name: "drop-in removed", change: func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "etc/ssh/sshd_config.d/50-cloud-init.conf")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a file not matched by the Include added", same: true, change: func(t *testing.T, root string) {
			putFile(t, root, "etc/ssh/sshd_config.d/README", "not read by sshd\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			agenttest.Layout(t, root, "ubuntu-cloud")
			putFile(t, root, "etc/ssh/target.conf", "PasswordAuthentication yes\n")
			if err := os.Symlink("../target.conf", filepath.Join(root, "etc/ssh/sshd_config.d/60-link.conf")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(filestamp.Settle + 50*time.Millisecond)
			o := Options{Root: root, Users: []string{"root"}}
			var s Step
			before, err := s.fingerprint(o)
			if err != nil {
				t.Fatal(err)
			}
			if !s.fp.deps.Unchanged() {
				t.Fatal("the fingerprint is not kept with settled files")
			}
			if again, _ := s.fingerprint(o); again != before {
				t.Fatalf("fingerprint changed with nothing changed: %s, then %s", before, again)
			}
			tt.change(t, root)
			got, err := s.fingerprint(o)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Fingerprint(o)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("kept fingerprint %s, Fingerprint %s", got, want)
			}
			if (got == before) != tt.same {
				t.Errorf("fingerprint unchanged = %v, want %v", got == before, tt.same)
			}
		})
	}
}

func putFile(t *testing.T, root, rel, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, rel), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func renameFile(t *testing.T, root, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(root, from), filepath.Join(root, to)); err != nil {
		t.Fatal(err)
	}
}

// sameSize rewrites rel with data, of the old content's size, and puts the
// old mtime back: only the ctime tells.
func sameSize(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, rel)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(data)) {
		t.Fatalf("%s: new content is %d bytes, old %d", rel, len(data), fi.Size())
	}
	putFile(t, root, rel, data)
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}
