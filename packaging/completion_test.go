package packaging

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecs-keyagent/ecs-keyagent/agent/agenttest"
)

// The shell completions in completion/, tested with the shells themselves:
// bash calls the completion function as bash-completion's loader installs
// it, zsh completes typed lines in an interactive shell (testdata/complete.zsh).
// TestShellScripts runs shellcheck on the bash one.

const (
	bashCompletion = "completion/ecs-keyagent.bash"
	zshCompletion  = "completion/_ecs-keyagent"
)

// completionCase is a command line up to the cursor and the candidates
// offered there. With subset, want need only be among them (local users).
type completionCase struct {
	line   string
	want   []string
	subset bool
}

// completionCases are what both shells must offer. $T is a scratch
// directory: conf.toml, conf.d/, id_ed25519.pub and root/etc/passwd, whose
// users are demo and alice.
var completionCases = []completionCase{
	{line: "ecs-keyagent ", want: []string{"check-config", "doctor", "help", "restore-sshd", "run", "status", "sync", "version"}},
	{line: "ecs-keyagent s", want: []string{"status", "sync"}},
	{line: "ecs-keyagent --", want: []string{"--help", "--log-level", "--version"}},
	{line: "ecs-keyagent --log-level ", want: []string{"debug", "error", "info", "warn"}},
	{line: "ecs-keyagent --log-level=", want: []string{"debug", "error", "info", "warn"}},
	{line: "ecs-keyagent --log-level=w", want: []string{"warn"}},
	{line: "ecs-keyagent --log-level debug st", want: []string{"status"}},
	{line: "ecs-keyagent --log-level=debug st", want: []string{"status"}},
	{line: "ecs-keyagent help ", want: []string{"check-config", "doctor", "restore-sshd", "run", "status", "sync", "version"}},
	{line: "ecs-keyagent help sync ", want: nil},
	{line: "ecs-keyagent sync --d", want: []string{"--dry-run"}},
	{line: "ecs-keyagent doctor --f", want: []string{"--fingerprint"}},
	{line: "ecs-keyagent doctor --k", want: []string{"--key"}},
	{line: "ecs-keyagent sync --log-level ", want: []string{"debug", "error", "info", "warn"}},
	{line: "ecs-keyagent sync --user ", want: []string{"root"}, subset: true},
	{line: "ecs-keyagent sync --user=ro", want: []string{"root"}, subset: true},
	{line: "ecs-keyagent sync --root $T/root --user ", want: []string{"alice", "demo"}},
	{line: "ecs-keyagent sync --root=$T/root --user=a", want: []string{"alice"}},
	{line: "ecs-keyagent status --root $T/root --user d", want: []string{"demo"}},
	{line: "ecs-keyagent sync --config $T/co", want: []string{"conf.d", "conf.toml"}},
	{line: "ecs-keyagent check-config --config=$T/conf.t", want: []string{"conf.toml"}},
	{line: "ecs-keyagent doctor --key $T/id", want: []string{"id_ed25519.pub"}},
	{line: "ecs-keyagent run --root $T/", want: []string{"conf.d", "root"}},
	{line: "ecs-keyagent restore-sshd --root=$T/r", want: []string{"root"}},
	{line: "ecs-keyagent sync --endpoint ", want: nil},
	{line: "ecs-keyagent nosuch --", want: nil},
}

// completionScratch makes the directory $T stands for.
func completionScratch(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"conf.toml":        "",
		"id_ed25519.pub":   "",
		"conf.d/x.toml":    "",
		"root/etc/passwd":  "demo:x:1000:1000::/home/demo:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n",
		"root/home/demo/x": "",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkCandidates compares what a shell offered with c.want; paths are
// compared by their last element, as both shells show them.
func checkCandidates(t *testing.T, shell string, c completionCase, got []string) {
	t.Helper()
	var norm []string
	for _, g := range got {
		g = strings.TrimSuffix(g, "/")
		if strings.Contains(g, "/") {
			g = filepath.Base(g)
		}
		norm = append(norm, strings.TrimSuffix(g, "="))
	}
	slices.Sort(norm)
	norm = slices.Compact(norm)
	if c.subset {
		for _, w := range c.want {
			if !slices.Contains(norm, w) {
				t.Errorf("%s: %q offers %q, want %q among them", shell, c.line, norm, w)
			}
		}
		return
	}
	want := slices.Clone(c.want)
	slices.Sort(want)
	if !slices.Equal(norm, want) {
		t.Errorf("%s: %q offers %q, want %q", shell, c.line, norm, want)
	}
}

// bashWords splits a line as bash does for a completion function: at
// blanks, and "--flag=value" into "--flag", "=", "value" ('=' is in
// COMP_WORDBREAKS). It returns COMP_WORDS and the function's $2 and $3:
// the word readline completes (empty right after "=") and the one before.
// An interactive bash on a pseudo-terminal gives the same for these lines.
func bashWords(line string) (words []string, cur, prev string) {
	for _, w := range strings.Split(line, " ") {
		if flag, value, ok := strings.Cut(w, "="); ok && strings.HasPrefix(flag, "-") {
			words = append(words, flag, "=")
			if value != "" {
				words = append(words, value)
			}
			continue
		}
		words = append(words, w)
	}
	cur = words[len(words)-1]
	if cur == "=" {
		cur = ""
	}
	prev = words[len(words)-2]
	return words, cur, prev
}

// bashQuote quotes s for a bash script.
func bashQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// bashComplete runs every line through the completion function in one
// bash, after setup, and returns the candidates for each line.
func bashComplete(t *testing.T, setup string, lines []string) [][]string {
	t.Helper()
	var script strings.Builder
	script.WriteString(setup + "\n")
	script.WriteString(`fn=$(complete -p ecs-keyagent) || exit 1
fn=${fn#*-F } fn=${fn%% *}
`)
	for _, line := range lines {
		words, cur, prev := bashWords(line)
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = bashQuote(w)
		}
		fmt.Fprintf(&script, "COMP_WORDS=(%s) COMP_CWORD=%d COMP_LINE=%s COMP_POINT=%d COMPREPLY=()\n",
			strings.Join(quoted, " "), len(words)-1, bashQuote(line), len(line))
		fmt.Fprintf(&script, "\"$fn\" ecs-keyagent %s %s\necho '@@'; printf '%%s\\n' \"${COMPREPLY[@]}\"\n", bashQuote(cur), bashQuote(prev))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--norc", "--noprofile", "-c", script.String())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("bash: %v\n%s", err, stderr.String())
	}
	return splitCandidates(t, string(out), "@@", len(lines))
}

// splitCandidates cuts output into the candidates after each marker line.
func splitCandidates(t *testing.T, out, marker string, n int) [][]string {
	t.Helper()
	var all [][]string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == marker || strings.HasPrefix(l, marker+" "):
			all = append(all, nil)
		case l != "" && len(all) > 0:
			all[len(all)-1] = append(all[len(all)-1], l)
		}
	}
	if len(all) != n {
		t.Fatalf("completed %d lines, want %d:\n%s", len(all), n, out)
	}
	return all
}

func expand(cases []completionCase, dir string) []completionCase {
	out := slices.Clone(cases)
	for i := range out {
		out[i].line = strings.ReplaceAll(out[i].line, "$T", dir)
	}
	return out
}

func lines(cases []completionCase) []string {
	var l []string
	for _, c := range cases {
		l = append(l, c.line)
	}
	return l
}

// TestBashCompletion sources the script into a plain bash, and loads it
// through bash-completion's on-demand loader from a completions directory
// as the packages install it; then completes every case.
func TestBashCompletion(t *testing.T) {
	agenttest.MustHaveCommands(t, "bash")
	script, err := filepath.Abs(bashCompletion)
	if err != nil {
		t.Fatal(err)
	}
	dir := completionScratch(t)
	cases := expand(completionCases, dir)

	t.Run("sourced", func(t *testing.T) {
		got := bashComplete(t, "source "+bashQuote(script), lines(cases))
		for i, c := range cases {
			checkCandidates(t, "bash", c, got[i])
		}
	})

	t.Run("bash-completion", func(t *testing.T) {
		const main = "/usr/share/bash-completion/bash_completion"
		if _, err := os.Stat(main); err != nil {
			agenttest.SkipOrFail(t, "needs bash-completion (apt-get install bash-completion): %v", err)
		}
		user := t.TempDir()
		if err := os.MkdirAll(filepath.Join(user, "completions"), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(user, "completions/ecs-keyagent"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		// bash calls the default (-D) completion for a command with none;
		// bash-completion's loader finds the file by the command's name,
		// sources it and returns 124 to have bash retry.
		setup := fmt.Sprintf(`BASH_COMPLETION_USER_DIR=%s
source %s || exit 1
complete -p ecs-keyagent >/dev/null 2>&1 && { echo "ecs-keyagent completed before loading" >&2; exit 1; }
d=$(complete -p -D) d=${d#*-F } d=${d%%%% *}
"$d" ecs-keyagent '' ''
[ $? = 124 ] || { echo "the loader did not load it" >&2; exit 1; }`, bashQuote(user), main)
		got := bashComplete(t, setup, lines(cases))
		for i, c := range cases {
			checkCandidates(t, "bash with bash-completion", c, got[i])
		}
	})
}

// TestZshCompletion checks the file's syntax, that Debian's zsh reads the
// directory the .deb installs it in, and completes every case in an
// interactive zsh.
func TestZshCompletion(t *testing.T) {
	agenttest.MustHaveCommands(t, "zsh")
	if out, err := exec.Command("zsh", "-n", zshCompletion).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	if _, err := os.Stat("/etc/debian_version"); err == nil {
		out, err := exec.Command("zsh", "-f", "-c", "print -l $fpath").Output()
		if err != nil || !slices.Contains(strings.Split(string(out), "\n"), "/usr/share/zsh/vendor-completions") {
			t.Errorf("zsh's $fpath lacks /usr/share/zsh/vendor-completions, where the .deb installs _ecs-keyagent (%v):\n%s", err, out)
		}
	}
	dir := completionScratch(t)
	fp := t.TempDir()
	data, err := os.ReadFile(zshCompletion)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fp, "_ecs-keyagent"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := expand(completionCases, dir)
	got := zshComplete(t, fp, lines(cases))
	for i, c := range cases {
		checkCandidates(t, "zsh", c, got[i])
	}
}

// zshComplete completes lines with the completion functions in fpath.
func zshComplete(t *testing.T, fpath string, lines []string) [][]string {
	t.Helper()
	driver, err := filepath.Abs("testdata/complete.zsh")
	if err != nil {
		t.Fatal(err)
	}
	// compinit is slow on a loaded machine; the driver waits for each line.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "zsh", "-f", driver, fpath)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zsh %s: %v\n%s\n%s", driver, err, out, stderr.String())
	}
	return splitCandidates(t, string(out), "@@", len(lines))
}

// usageFlags matches a flag in -h output: "  --name" or "  --name ARG".
var usageFlags = regexp.MustCompile(`(?m)^  (--[a-z-]+)( [A-Z]+)?$`)

// TestCompletionMatchesBinary holds both scripts to the binary's -h: the
// same commands, each command's flags exactly, and a flag that takes a
// value completes a value, not another flag.
func TestCompletionMatchesBinary(t *testing.T) {
	agenttest.MustHaveCommands(t, "bash", "zsh")
	bin := buildAgent(t)
	top := helpOf(t, bin, "-h")
	var commands []string
	for _, l := range strings.Split(top[strings.Index(top, "Commands:\n")+len("Commands:\n"):], "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		commands = append(commands, strings.Fields(l)[0])
	}
	if len(commands) < 7 {
		t.Fatalf("read %d commands from ecs-keyagent -h:\n%s", len(commands), top)
	}
	global := slices.Compact(slices.Sorted(slices.Values(append(regexp.MustCompile(`--[a-z-]+`).FindAllString(top[:strings.Index(top, "\n\n")], -1), "--help"))))
	cases := []completionCase{
		{line: "ecs-keyagent ", want: append(slices.Clone(commands), "help")},
		{line: "ecs-keyagent --", want: global},
	}
	// For zsh, which offers a flag once (--user, the repeatable one, stays),
	// the line after a flag without a value is only checked for offering flags.
	type boolCase struct{ line, flag string }
	var bools []boolCase
	for _, name := range commands {
		h := helpOf(t, bin, "help", name)
		flags := []string{"--help"}
		for _, m := range usageFlags.FindAllStringSubmatch(h, -1) {
			flags = append(flags, m[1])
			if m[2] != "" {
				// A value, whatever it is: never the flags again.
				cases = append(cases, completionCase{line: "ecs-keyagent " + name + " " + m[1] + " --", want: nil})
			} else {
				bools = append(bools, boolCase{"ecs-keyagent " + name + " " + m[1] + " --", m[1]})
			}
		}
		cases = append(cases, completionCase{line: "ecs-keyagent " + name + " --", want: flags})
	}
	all := lines(cases)
	for _, b := range bools {
		all = append(all, b.line)
	}
	check := func(shell string, got [][]string) {
		for i, c := range cases {
			checkCandidates(t, shell, c, got[i])
		}
		for i, b := range bools {
			g := got[len(cases)+i]
			if !slices.ContainsFunc(g, func(s string) bool { return strings.HasPrefix(s, "--") && s != b.flag }) {
				t.Errorf("%s: %q offers %q, want flags (%s takes no value)", shell, b.line, g, b.flag)
			}
		}
	}
	script, _ := filepath.Abs(bashCompletion)
	check("bash", bashComplete(t, "source "+bashQuote(script), all))
	fp := t.TempDir()
	data, err := os.ReadFile(zshCompletion)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fp, "_ecs-keyagent"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	check("zsh", zshComplete(t, fp, all))
}

// buildAgent builds ecs-keyagent from this tree into a scratch directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	agenttest.MustHaveCommands(t, "go")
	bin := filepath.Join(t.TempDir(), "ecs-keyagent")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/ecs-keyagent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// helpOf returns what the binary prints for args.
func helpOf(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return string(out)
}
