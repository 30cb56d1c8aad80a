package agenttest

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

//go:embed testdata/layouts
var layouts embed.FS

// Layouts names the sshd layouts, sorted.
func Layouts() []string {
	ents, err := layouts.ReadDir("testdata/layouts")
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// LayoutFiles returns the files of the sshd layout name, keyed by their
// path inside a tree ("etc/ssh/sshd_config"), for a test that rewrites
// them before writing (to point Include at another directory, say).
func LayoutFiles(t testing.TB, name string) map[string]string {
	t.Helper()
	files, err := layoutFiles(name)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Layout writes the sshd layout name into the tree at root: directories
// 0755, files 0644, all the test's own.
func Layout(t testing.TB, root, name string) {
	t.Helper()
	if err := WriteLayout(root, name); err != nil {
		t.Fatal(err)
	}
}

// WriteLayout is Layout for callers without a testing.TB. A layout whose
// sshd_config includes sshd_config.d gets that directory even when it holds
// nothing, as the distribution's package ships it (git keeps no empty
// directory in testdata).
func WriteLayout(root, name string) error {
	files, err := layoutFiles(name)
	if err != nil {
		return err
	}
	if strings.Contains(files["etc/ssh/sshd_config"], "Include /etc/ssh/sshd_config.d/") {
		if err := os.MkdirAll(filepath.Join(root, "etc/ssh/sshd_config.d"), 0o755); err != nil {
			return err
		}
	}
	for rel, data := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func layoutFiles(name string) (map[string]string, error) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("no sshd layout %q", name)
	}
	dir := path.Join("testdata/layouts", name)
	files := map[string]string{}
	err := fs.WalkDir(layouts, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := layouts.ReadFile(p)
		files[strings.TrimPrefix(p, dir+"/")] = string(data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sshd layout %q: %w (have %s)", name, err, strings.Join(Layouts(), ", "))
	}
	return files, nil
}
