package sshd

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
	"github.com/ecs-keyagent/ecs-keyagent/agent/securefs"
)

const (
	mainFile = "etc/ssh/sshd_config"
	dropIn   = "etc/ssh/sshd_config.d/" + dropInName
	include  = "Include {{dir}}/etc/ssh/sshd_config.d/*.conf\n"
	hostKeyL = "HostKey {{dir}}/hostkey\n"
)

// layouts are the configurations the agent meets, reduced to what matters;
// Include lines use absolute paths because sshd runs on the real /etc/ssh.
var layouts = []struct {
	name        string
	layout      string // an agenttest layout, or files
	files       map[string]string
	wantMethod  string   // prefix of Result.Method
	wantChanged []string // files Apply changes
	wantMain    string   // main file after Apply, when it is edited
	allowed     []string // users a Match block still lets in with a password
	warnings    int
}{
	{
		name: "debian 12 stock",
		files: map[string]string{mainFile: "# header\n\n" + include + "\n" + hostKeyL +
			"#PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n"},
		wantMethod:  "drop-in",
		wantChanged: []string{dropIn},
	},
	{
		name:        "ubuntu cloud image with 50-cloud-init.conf",
		layout:      "ubuntu-cloud",
		wantMethod:  "drop-in",
		wantChanged: []string{dropIn},
	},
	{
		name:        "rhel 9 with 50-redhat.conf",
		layout:      "rhel9",
		wantMethod:  "drop-in",
		wantChanged: []string{dropIn},
	},
	{
		name:        "no include, password yes in main file",
		files:       map[string]string{mainFile: hostKeyL + "PasswordAuthentication yes\nUsePAM yes\n"},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
		wantMain: hostKeyL + disabledPrefix + "PasswordAuthentication yes\nUsePAM yes\n" +
			renderBlock([]string{kwPassword, kwKbd}),
	},
	{
		name: "keyword in main file before include",
		files: map[string]string{
			mainFile: hostKeyL + "passwordauthentication=yes\n" + include,
			"etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\nChallengeResponseAuthentication yes\n",
		},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
		wantMain: hostKeyL + disabledPrefix + "passwordauthentication=yes\n" +
			renderBlock([]string{kwPassword, kwKbd}) + include,
	},
	{
		name: "match user alice allows passwords",
		files: map[string]string{mainFile: hostKeyL + "ChallengeResponseAuthentication yes\n" +
			"Match User alice\n\tPasswordAuthentication yes\n"},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
		wantMain: hostKeyL + disabledPrefix + "ChallengeResponseAuthentication yes\n" +
			renderBlock([]string{kwPassword, kwKbd}) + "Match User alice\n\tPasswordAuthentication yes\n",
		allowed:  []string{"alice"},
		warnings: 1,
	},
	{
		name:        "trailing match block without newline at end",
		files:       map[string]string{mainFile: hostKeyL + "Match Address 10.0.0.0/8\n  X11Forwarding no"},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
		wantMain:    hostKeyL + renderBlock([]string{kwPassword, kwKbd}) + "Match Address 10.0.0.0/8\n  X11Forwarding no",
	},
	{
		name:        "no newline at end of file",
		files:       map[string]string{mainFile: hostKeyL + "UsePAM yes"},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
		wantMain:    hostKeyL + "UsePAM yes\n" + strings.TrimSuffix(renderBlock([]string{kwPassword, kwKbd}), "\n"),
	},
	{
		name: "drop-in sorting before ours sets yes",
		files: map[string]string{
			mainFile:                          include + hostKeyL,
			"etc/ssh/sshd_config.d/00-a.conf": "PasswordAuthentication yes\n",
		},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
		wantMain:    renderBlock([]string{kwPassword, kwKbd}) + include + hostKeyL,
	},
	{
		name: "include glob that cannot match our name",
		files: map[string]string{
			mainFile: "Include {{dir}}/etc/ssh/sshd_config.d/50-*.conf\n" + hostKeyL,
			"etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
		},
		wantMethod:  "marked block",
		wantChanged: []string{mainFile},
	},
}

// TestApplyLayouts runs disable, disable again and keep on every layout and
// asks the real sshd what it makes of each result.
func TestApplyLayouts(t *testing.T) {
	requireSSHD(t)
	for _, tt := range layouts {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if tt.layout != "" {
				files = layoutFiles(t, tt.layout)
			}
			f := newFixture(t, files)
			orig := f.snapshot()
			rl := &fakeReloader{}
			users := []string{"root", "alice"}
			res, err := Apply(context.Background(), f.options(rl, users...))
			if err != nil {
				t.Fatalf("Apply(disable) = %v", err)
			}
			if !strings.HasPrefix(res.Method, tt.wantMethod) {
				t.Errorf("Method = %q, want %s...", res.Method, tt.wantMethod)
			}
			var want []string
			for _, c := range tt.wantChanged {
				want = append(want, f.path(c))
			}
			if strings.Join(res.Changed, " ") != strings.Join(want, " ") {
				t.Errorf("Changed = %q, want %q", res.Changed, want)
			}
			if tt.wantMain != "" {
				if got, _ := os.ReadFile(f.path(mainFile)); string(got) != f.expand(tt.wantMain) {
					t.Errorf("main file =\n%s\nwant\n%s", got, f.expand(tt.wantMain))
				}
			}
			if res.CheckedBy != CheckedBySSHD || !res.Reloaded || rl.count() != 1 {
				t.Errorf("CheckedBy %q, Reloaded %v, reloads %d; want sshd, true, 1", res.CheckedBy, res.Reloaded, rl.count())
			}
			if len(res.Warnings) != tt.warnings {
				t.Errorf("Warnings = %q, want %d", res.Warnings, tt.warnings)
			}
			for _, u := range users {
				want := "no"
				for _, a := range tt.allowed {
					if a == u {
						want = "yes"
					}
				}
				v := f.sshdT(u)
				if v[kwPassword] != want || v[kwKbd] != "no" {
					t.Errorf("sshd -T for %s: password %s kbd %s, want %s no", u, v[kwPassword], v[kwKbd], want)
				}
				if ur := findUser(res, u); ur.PasswordAuthentication != v[kwPassword] || ur.KbdInteractiveAuthentication != v[kwKbd] {
					t.Errorf("Result for %s = %+v, sshd -T says %s %s", u, ur, v[kwPassword], v[kwKbd])
				}
			}

			applied := f.snapshot()
			res, err = Apply(context.Background(), f.options(rl, users...))
			if err != nil || len(res.Changed) != 0 || res.Reloaded || rl.count() != 1 {
				t.Errorf("second Apply = %v, Changed %q, Reloaded %v, reloads %d; want nothing done", err, res.Changed, res.Reloaded, rl.count())
			}
			again := f.snapshot()
			sameFiles(t, "second Apply", again, applied)
			for name, fi := range applied {
				if !again[name].mtime.Equal(fi.mtime) {
					t.Errorf("second Apply touched %s", name)
				}
			}

			o := f.options(rl, users...)
			o.Password, o.KbdInteractive = Keep, Keep
			if res, err = Apply(context.Background(), o); err != nil {
				t.Fatalf("Apply(keep) = %v", err)
			}
			sameFiles(t, "keep after disable", f.snapshot(), orig)
			if len(res.Changed) != len(tt.wantChanged) || rl.count() != 2 {
				t.Errorf("keep: Changed %q, reloads %d; want %d files, 2 reloads", res.Changed, rl.count(), len(tt.wantChanged))
			}
		})
	}
}

func findUser(res Result, user string) UserResult {
	for _, u := range res.Users {
		if u.User == user {
			return u
		}
	}
	return UserResult{}
}

// TestApplySyntaxError: sshd -t rejects a planted error, so nothing stays
// written and nothing is reloaded.
func TestApplySyntaxError(t *testing.T) {
	requireSSHD(t)
	for _, tt := range []struct{ name, main string }{
		{"drop-in layout", include + hostKeyL + "PasswordAuthentication yes\nNoSuchOption yes\n"},
		{"main-file layout", hostKeyL + "PasswordAuthentication yes\nMatch User bob\n\tPort 22\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{mainFile: tt.main})
			before := f.snapshot()
			rl := &fakeReloader{}
			_, err := Apply(context.Background(), f.options(rl, "root"))
			if err == nil || !strings.Contains(err.Error(), "check sshd config: ") {
				t.Fatalf("Apply = %v, want sshd's complaint", err)
			}
			t.Logf("Apply = %v", err)
			sameFiles(t, "after failed check", f.snapshot(), before)
			if rl.count() != 0 {
				t.Errorf("reloaded %d times after a failed check", rl.count())
			}
		})
	}
}

// TestApplyRefusesSymlinks: securefs refuses a symlinked drop-in directory
// or drop-in; nothing is written.
func TestApplyRefusesSymlinks(t *testing.T) {
	requireSSHD(t)
	for _, tt := range []struct {
		name  string
		setup func(f *fixture)
	}{
		{"symlinked sshd_config.d", func(f *fixture) {
			os.Remove(f.path("etc/ssh/sshd_config.d"))
			f.write("elsewhere/keep", "x\n")
			if err := os.Symlink(f.path("elsewhere"), f.path("etc/ssh/sshd_config.d")); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlinked drop-in", func(f *fixture) {
			f.write("elsewhere/target", dropInHeader+"\nPasswordAuthentication no\n")
			if err := os.Symlink(f.path("elsewhere/target"), f.path(dropIn)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{mainFile: include + hostKeyL})
			tt.setup(f)
			before := f.snapshot()
			_, err := Apply(context.Background(), f.options(&fakeReloader{}, "root"))
			if !errors.Is(err, securefs.ErrUnsafe) {
				t.Errorf("Apply = %v, want a securefs refusal", err)
			}
			sameFiles(t, "after refusal", f.snapshot(), before)
		})
	}
}

// TestApplyForeignDropIn: a file with our name but not our header is the
// administrator's, and the agent does not overwrite it.
func TestApplyForeignDropIn(t *testing.T) {
	requireSSHD(t)
	f := newFixture(t, map[string]string{mainFile: include + hostKeyL, dropIn: "PasswordAuthentication yes\n"})
	before := f.snapshot()
	if _, err := Apply(context.Background(), f.options(&fakeReloader{}, "root")); err == nil || !strings.Contains(err.Error(), "not written by ecs-keyagent") {
		t.Errorf("Apply = %v, want a refusal", err)
	}
	sameFiles(t, "after refusal", f.snapshot(), before)
}

// TestRestoreDryRun: a dry run says which files a restore would remove and
// rewrite, with the diff, and changes nothing; the restore then does just
// that, naming the removed files.
func TestRestoreDryRun(t *testing.T) {
	requireSSHD(t)
	for _, tt := range []struct {
		name              string
		main              string
		changed, removed  []string
		diffHas, diffHasN string
	}{
		{"drop-in layout", include + hostKeyL + "UsePAM yes\n", []string{dropIn}, []string{dropIn},
			"+++ /dev/null", "-PasswordAuthentication no"},
		{"main-file layout", hostKeyL + "PasswordAuthentication yes\nUsePAM yes\n", []string{mainFile}, nil,
			"-" + disabledPrefix + "PasswordAuthentication yes", "+PasswordAuthentication yes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{mainFile: tt.main})
			orig := f.snapshot()
			rl := &fakeReloader{}
			if _, err := Apply(context.Background(), f.options(rl, "root")); err != nil {
				t.Fatalf("Apply(disable) = %v", err)
			}
			applied := f.snapshot()
			paths := func(names []string) []string {
				var out []string
				for _, n := range names {
					out = append(out, f.path(n))
				}
				return out
			}

			o := f.options(rl)
			o.DryRun = true
			rep, err := Restore(context.Background(), o)
			if err != nil {
				t.Fatalf("Restore(dry run) = %v", err)
			}
			if !slices.Equal(rep.Changed, paths(tt.changed)) || !slices.Equal(rep.Removed, paths(tt.removed)) {
				t.Errorf("dry run: Changed %q, Removed %q; want %q, %q", rep.Changed, rep.Removed, paths(tt.changed), paths(tt.removed))
			}
			if !strings.Contains(rep.Diff, tt.diffHas) || !strings.Contains(rep.Diff, tt.diffHasN) {
				t.Errorf("dry run: Diff =\n%s\nwant %q and %q", rep.Diff, tt.diffHas, tt.diffHasN)
			}
			sameFiles(t, "after a dry run", f.snapshot(), applied)
			if rep.Reloaded || rl.count() != 1 {
				t.Errorf("dry run reloaded: Reloaded %v, reloads %d", rep.Reloaded, rl.count())
			}

			rep, err = Restore(context.Background(), f.options(rl))
			if err != nil {
				t.Fatalf("Restore = %v", err)
			}
			if !slices.Equal(rep.Changed, paths(tt.changed)) || !slices.Equal(rep.Removed, paths(tt.removed)) || rep.Diff != "" {
				t.Errorf("restore: Changed %q, Removed %q, Diff %q; want %q, %q, none", rep.Changed, rep.Removed, rep.Diff, paths(tt.changed), paths(tt.removed))
			}
			sameFiles(t, "after restore", f.snapshot(), orig)
		})
	}
}

// TestApplyKbdOffEveryRelease turns keyboard-interactive off, through a
// drop-in and through the marked block, on configurations that leave
// ChallengeResponseAuthentication at its default or set it to yes, and
// requires every sshd of agenttest.SSHDs to report it off: before OpenSSH
// 8.7 ChallengeResponseAuthentication yes (the default) turns it back on
// unless the agent sets that keyword too.
func TestApplyKbdOffEveryRelease(t *testing.T) {
	confs := []struct{ name, conf string }{
		{"drop-in, default", include + hostKeyL + "UsePAM yes\n"},
		{"drop-in, ChallengeResponseAuthentication yes", include + hostKeyL + "UsePAM yes\nChallengeResponseAuthentication yes\n"},
		{"marked block, default", hostKeyL + "UsePAM yes\nKbdInteractiveAuthentication yes\n"},
		{"marked block, ChallengeResponseAuthentication yes", hostKeyL + "ChallengeResponseAuthentication yes\nUsePAM yes\n"},
	}
	for _, bin := range agenttest.SSHDs(t) {
		t.Run(bin.Label, func(t *testing.T) {
			for _, c := range confs {
				t.Run(c.name, func(t *testing.T) {
					f := newFixture(t, map[string]string{mainFile: c.conf})
					f.sshd = bin.Path
					o := f.options(&fakeReloader{}, "alice")
					o.Password, o.KbdInteractive = Disable, Disable
					if _, err := Apply(context.Background(), o); err != nil {
						t.Fatalf("Apply: %v", err)
					}
					got := f.sshdT("alice")
					if got[kwKbd] != "no" || got[kwPassword] != "no" {
						t.Errorf("after Apply %s -T: %s %s, %s %s; want both no", bin.Label, kwKbd, got[kwKbd], kwPassword, got[kwPassword])
					}
				})
			}
		})
	}
}
