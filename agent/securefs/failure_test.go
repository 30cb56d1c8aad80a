package securefs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openTemp opens a fresh directory of ours holding "keys" with old content; no root needed.
func openTemp(t *testing.T) (*Dir, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "d/keys"), []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSystemDir(root, "/d", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, filepath.Join(root, "d")
}

func checkUntouched(t *testing.T, dir string) {
	t.Helper()
	if data, err := os.ReadFile(filepath.Join(dir, "keys")); err != nil || string(data) != "old\n" {
		t.Errorf("keys = %q, %v, want the old content", data, err)
	}
	if m := temps(t, dir); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// A name whose temporary name exceeds NAME_MAX fails at creating the temporary file.
func TestWriteFileNameTooLong(t *testing.T) {
	d, dir := openTemp(t)
	long := strings.Repeat("k", 250)
	if err := d.WriteFile(long, []byte("new\n"), 0o600, -1, -1); err == nil {
		t.Fatal("WriteFile(250-byte name) succeeded, want ENAMETOOLONG")
	}
	checkUntouched(t, dir)
}

// A write that fails half way (EFBIG under RLIMIT_FSIZE; Go ignores SIGXFSZ) must
// remove the partly written temporary file and leave the old file alone.
func TestWriteFileFailsMidWrite(t *testing.T) {
	d, dir := openTemp(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = 16
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	err := d.WriteFile("keys", []byte(strings.Repeat("new key\n", 512)), 0o600, -1, -1)
	if rerr := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("WriteFile over RLIMIT_FSIZE = %v, want EFBIG", err)
	}
	checkUntouched(t, dir)
}

func TestWriteFileRefusesWritableMode(t *testing.T) {
	d, dir := openTemp(t)
	if err := d.WriteFile("keys", []byte("new\n"), 0o666, -1, -1); err == nil {
		t.Fatal("WriteFile(mode 0666) succeeded, want an error")
	}
	checkUntouched(t, dir)
}
