package securefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTouch(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "run/agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(root, "victim")
	if err := os.WriteFile(victim, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_000_000_000, 0)
	if err := os.Chtimes(victim, old, old); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSystemDir(root, "/run/agent", false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	if err := d.Touch("missing", time.Now()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Touch(missing) = %v, want a not-exist error", err)
	}
	if err := d.WriteFile("stamp", nil, 0o644, os.Geteuid(), os.Getegid()); err != nil {
		t.Fatal(err)
	}
	want := time.Unix(1_700_000_000, 123456789)
	if err := d.Touch("stamp", want); err != nil {
		t.Fatalf("Touch(stamp) = %v", err)
	}
	st, err := d.Lstat("stamp")
	if err != nil || !st.ModTime.Equal(want) {
		t.Errorf("after Touch, mtime = %v (%v), want %v", st.ModTime, err, want)
	}

	if err := os.Symlink(victim, filepath.Join(root, "run/agent/link")); err != nil {
		t.Fatal(err)
	}
	if err := d.Touch("link", want); !errors.Is(err, ErrUnsafe) {
		t.Errorf("Touch(symlink) = %v, want ErrUnsafe", err)
	}
	if fi, err := os.Stat(victim); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("the symlink's target was retimed: %v (%v), want %v", fi.ModTime(), err, old)
	}
}
