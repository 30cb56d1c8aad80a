package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
)

// sshdDir makes a configuration tree the real sshd reads at its real path.
// securefs trusts no world-writable directory such as /tmp above it, so
// it lives in a root-owned directory under /var/lib, removed afterwards.
func sshdDir(t *testing.T, main string) string {
	dir, err := os.MkdirTemp("/var/lib", "ecs-keyagent-reliability-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	must(t, os.MkdirAll(dir+"/sshd_config.d", 0o755))
	must(t, os.WriteFile(dir+"/sshd_config.d/50-cloud-init.conf", []byte(cloudInit), 0o644))
	main = strings.ReplaceAll(main, "{{dir}}", dir) + "HostKey " + sshdHostKey + "\n"
	must(t, os.WriteFile(dir+"/sshd_config", []byte(main), 0o644))
	return dir
}

type failingReloader struct{ calls int }

func (r *failingReloader) Reload(context.Context) (bool, string, error) {
	r.calls++
	return false, "", errors.New("org.freedesktop.systemd1: unit ssh.service failed to reload")
}

type okReloader struct{ calls int }

func (r *okReloader) Reload(context.Context) (bool, string, error) {
	r.calls++
	return true, "reloaded (test)", nil
}

// TestSSHDFaults applies the sshd step with the real sshd against broken
// administrators' configurations, a missing sshd binary, a failing reload
// and no D-Bus, and checks nothing is half-applied: either every file is
// byte for byte as before, or the new configuration is whole and passes
// sshd -t; and the result says which.
func TestSSHDFaults(t *testing.T) {
	needRoot(t)
	if !sshdAvailable(t) {
		t.Skip("needs " + sshdBin)
	}
	rec := newRecord(t, "sshd faults: broken config, no sshd, failing reload, no D-Bus")
	good := "Include {{dir}}/sshd_config.d/*.conf\nUsePAM yes\n"
	ctx := context.Background()
	opts := func(dir string) sshd.Options {
		return sshd.Options{Root: "/", Config: dir + "/sshd_config", Users: []string{"root"}, SSHD: sshdBin}
	}
	// Files, not directories: the step writes, runs sshd -t and restores,
	// which leaves the directory's mtime changed and nothing else.
	files := func(dir string) map[string]entry {
		m := snapshot(t, dir, func(string) bool { return true })
		for p, e := range m {
			if e.mode.IsDir() {
				delete(m, p)
			}
		}
		return m
	}
	unchanged := func(name, dir string, before map[string]entry) {
		if diffs, _ := compare(before, files(dir)); len(diffs) > 0 {
			rec.lost("%s: files changed although the step failed:\n%s", name, strings.Join(diffs, "\n"))
		}
	}
	wholeAndChecked := func(name, dir string) {
		cmd := []string{"-t", "-f", dir + "/sshd_config"}
		if out, err := execOut(sshdBin, cmd...); err != nil {
			rec.fail("%s: sshd -t rejects what was left: %v: %s", name, err, out)
		}
		if left, _ := filepath.Glob(dir + "/*/.*ecs-keyagent-*"); len(left) > 0 {
			rec.fail("%s: temporary files left: %q", name, left)
		}
	}

	for _, broken := range []struct{ name, main string }{
		{"unknown keyword", good + "NoSuchKeyword yes\n"},
		{"bad value", good + "PermitRootLogin sometimes\n"},
		{"Match without criteria", good + "Match\n"},
	} {
		for _, bin := range []string{sshdBin, "/nonexistent/sshd"} {
			name := fmt.Sprintf("admin config with %s, sshd %s", broken.name, bin)
			rec.run()
			rec.fault()
			dir := sshdDir(t, broken.main)
			before := files(dir)
			o := opts(dir)
			o.SSHD = bin
			o.Reloader = &okReloader{}
			res, err := sshd.Apply(ctx, o)
			t.Logf("%s: err %v; changed %q, checked by %q", name, err, res.Changed, res.CheckedBy)
			if err == nil {
				if bin == sshdBin {
					rec.fail("%s: Apply succeeded on a configuration sshd -t rejects", name)
				}
				continue // no sshd to run: the agent's parser only knows its keywords
			}
			unchanged(name, dir, before)
		}
	}

	rec.run()
	rec.fault()
	dir := sshdDir(t, good)
	o := opts(dir)
	o.SSHD = "/nonexistent/sshd"
	res, err := sshd.Apply(ctx, o)
	if err != nil || res.CheckedBy != sshd.CheckedByParser {
		rec.fail("sshd binary missing: err %v, checked by %q; want success checked by %q", err, res.CheckedBy, sshd.CheckedByParser)
	}
	wholeAndChecked("sshd binary missing", dir)
	rec.figure("sshd binary missing", "applied, result says checked by \""+res.CheckedBy+"\"")

	rec.run()
	rec.fault()
	dir = sshdDir(t, good)
	o = opts(dir)
	fail := &failingReloader{}
	o.Reloader = fail
	res, err = sshd.Apply(ctx, o)
	if !errors.Is(err, sshd.ErrReload) || len(res.Changed) == 0 {
		rec.fail("reload failing: err %v, changed %q; want ErrReload after a checked write", err, res.Changed)
	}
	wholeAndChecked("reload failing", dir)
	ok := &okReloader{}
	o.Reloader, o.RetryReload = ok, true
	res, err = sshd.Apply(ctx, o)
	if err != nil || ok.calls != 1 || !res.Reloaded || len(res.Changed) != 0 {
		rec.fail("retry after a failed reload: err %v, reloads %d, reloaded %v, changed %q", err, ok.calls, res.Reloaded, res.Changed)
	}
	rec.figure("reload failing", "files whole and sshd -t clean; error wraps ErrReload; the retry reloads without writing")

	// No systemd and so no D-Bus here: the system reloader falls back to
	// sshd's pid file. On a machine with systemd, this would reload the
	// host's sshd, so it is not run there.
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		rec.figure("D-Bus absent", "not run: this machine runs systemd")
		return
	}
	for _, pf := range []struct{ name, content string }{{"no pid file", ""}, {"pid file naming a non-sshd process", fmt.Sprint(os.Getpid())}} {
		rec.run()
		rec.fault()
		dir = sshdDir(t, good)
		o = opts(dir)
		pidFile := dir + "/sshd.pid"
		if pf.content != "" {
			must(t, os.WriteFile(pidFile, []byte(pf.content), 0o644))
		}
		o.Reloader = sshd.SystemReloader{PidFile: pidFile}
		res, err = sshd.Apply(ctx, o)
		if err != nil || res.Reloaded || !strings.Contains(res.Reload, "not running") {
			rec.fail("D-Bus absent, %s: err %v, reloaded %v, %q", pf.name, err, res.Reloaded, res.Reload)
		}
		wholeAndChecked("D-Bus absent, "+pf.name, dir)
		t.Logf("D-Bus absent, %s: %s", pf.name, res.Reload)
	}
	rec.figure("D-Bus absent", "falls back to sshd's pid file; \""+res.Reload+"\"")
}

func execOut(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}
