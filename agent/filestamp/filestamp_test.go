package filestamp

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// settled sleeps until files made before the call have settled stamps.
func settled(t *testing.T) {
	t.Helper()
	time.Sleep(Settle + 50*time.Millisecond)
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every way a file or directory can change shows in its stamp, once the
// stamp taken before the change had settled.
func TestSetSeesChanges(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	files := []string{"same-size", "renamed-over", "chmod", "untouched"}
	for _, f := range files {
		write(t, p(f), "PasswordAuthentication no\n")
	}
	write(t, p("target-a"), "a\n")
	write(t, p("target-b"), "b\n")
	if err := os.Symlink("target-a", p("link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	settled(t)

	tests := []struct {
		name   string
		path   string
		follow bool
		change func(t *testing.T)
	}{
		{name: "rewritten, same size, mtime restored", path: p("same-size"), follow: true, change: func(t *testing.T) {
			fi, err := os.Stat(p("same-size"))
			if err != nil {
				t.Fatal(err)
			}
			write(t, p("same-size"), "PasswordAuthentication ye\n")
			if err := os.Chtimes(p("same-size"), fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "replaced by a rename", path: p("renamed-over"), follow: true, change: func(t *testing.T) {
			write(t, p("new"), "PasswordAuthentication no\n")
			if err := os.Rename(p("new"), p("renamed-over")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "mode changed", path: p("chmod"), follow: true, change: func(t *testing.T) {
			if err := os.Chmod(p("chmod"), 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "symbolic link retargeted, followed", path: p("link"), follow: true, change: func(t *testing.T) {
			if err := os.Remove(p("link")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("target-b", p("link")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "file added to a directory", path: p("d"), follow: true, change: func(t *testing.T) {
			write(t, p("d/50-new.conf"), "")
		}},
		{name: "missing file created", path: p("absent"), follow: false, change: func(t *testing.T) {
			write(t, p("absent"), "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var set Set
			if tt.follow {
				set.Stat(tt.path)
			} else {
				set.Lstat(tt.path)
			}
			set.Stat(p("untouched"))
			if !set.Unchanged() {
				t.Fatalf("Unchanged() = false before the change")
			}
			tt.change(t)
			if set.Unchanged() {
				t.Errorf("Unchanged() = true after the change")
			}
		})
	}
}

// A stamp taken within Settle of the file's last change is not trusted,
// even when nothing changes after it.
func TestSetUnsettled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "x")
	var set Set
	set.Stat(p)
	if set.Trusted() || set.Unchanged() {
		t.Errorf("fresh file: Trusted() = %v, Unchanged() = %v; want false, false", set.Trusted(), set.Unchanged())
	}
	var empty *Set
	if empty.Unchanged() || (&Set{}).Unchanged() {
		t.Error("an empty Set is unchanged")
	}
}

// ReadFile's stamp is the one Stat gives while the file is unchanged, and
// a file is cut at the limit.
func TestReadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	write(t, p, "0123456789")
	for _, tt := range []struct {
		limit int64
		want  string
	}{{100, "0123456789"}, {10, "0123456789"}, {4, "0123"}} {
		data, st, err := ReadFile(p, tt.limit)
		if err != nil || string(data) != tt.want {
			t.Errorf("ReadFile(%d) = %q, %v; want %q", tt.limit, data, err, tt.want)
		}
		if st != Stat(p) {
			t.Errorf("ReadFile(%d) stamp %+v, Stat %+v", tt.limit, st, Stat(p))
		}
	}
	_, st, err := ReadFile(filepath.Join(filepath.Dir(p), "missing"), 10)
	if err == nil || st != Stat(filepath.Join(filepath.Dir(p), "missing")) || st.Exists() {
		t.Errorf("ReadFile(missing) = %v, stamp %+v", err, st)
	}
}

// A path stat'ed and lstat'ed is checked once when it is not a symbolic
// link, and a link put in its place is still seen.
func TestSetOneCheckPerPath(t *testing.T) {
	dir := t.TempDir()
	f, link := filepath.Join(dir, "f"), filepath.Join(dir, "link")
	write(t, f, "x")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	settled(t)
	var set Set
	set.Lstat(f)
	set.Stat(f)
	set.Lstat(link)
	set.Stat(link)
	if got := set.Len(); got != 3 {
		t.Errorf("Len() = %d, want 3: the file once, the link with and without following", got)
	}
	if !set.Unchanged() {
		t.Fatal("Unchanged() = false with nothing changed")
	}
	if err := os.Rename(f, f+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f.real", f); err != nil {
		t.Fatal(err)
	}
	if set.Unchanged() {
		t.Error("Unchanged() = true after the file was replaced by a link to it")
	}
}
