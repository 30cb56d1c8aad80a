package main

import (
	"strings"
	"testing"
)

func TestInline(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "per request", want: "per request"},
		{name: "code span", in: "`\"2s\"` each", want: `\fB"2s"\fR each`},
		{name: "hyphen and backslash", in: `a-b \n`, want: `a\-b \en`},
		{name: "leading dot", in: ".ssh", want: `\&.ssh`},
		{name: "link", in: "see [Password login](#password-logon)", want: "see Password login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inline(tt.in); got != tt.want {
				t.Errorf("inline(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTableAfter(t *testing.T) {
	md := "# x\n\n### Exit status\n\ntext\n\n| status | meaning |\n|---|---|\n| 0 | done |\n| 1 | failed |\n\nafter\n| 9 | not this |\n"
	rows, err := tableAfter(md, "### Exit status")
	if err != nil {
		t.Fatal(err)
	}
	got := tableRoff(rows)
	want := ".TP\n0\ndone\n.TP\n1\nfailed\n"
	if got != want {
		t.Errorf("tableRoff(%q) = %q, want %q", rows, got, want)
	}
	if _, err := tableAfter(md, "## Missing"); err == nil {
		t.Errorf("tableAfter(missing heading) = nil error, want one")
	}
}

func TestCommandRoff(t *testing.T) {
	help := "Usage: ecs-keyagent status [--root DIR] [--json]\n\nShow the last sync's result.\n\nFlags:\n  --json\n        print the state as JSON\n" +
		"  --root DIR\n        treat DIR as the filesystem root (default /)\n  -h, --help\n        print this help\n\n" +
		"Exit status: 0 ok.\n\nExamples:\n  sudo ecs-keyagent status\n      what is in force\n"
	got := commandRoff("status", help)
	for _, want := range []string{
		".SS status\n",
		`[\-\-root DIR] [\-\-json]`,
		"Show the last sync's result.\n",
		".BR \\-\\-json\nprint the state as JSON\n",
		".BR \\-\\-root \" \\fIDIR\\fR\"\ntreat DIR as the filesystem root (default /)\n",
		".TP\n.B sudo ecs\\-keyagent status\nwhat is in force\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("commandRoff(status) = %q, want it to contain %q", got, want)
		}
	}
}

func TestCommandRoffSkipsHelp(t *testing.T) {
	got := commandRoff("x", "Usage: ecs-keyagent x\n\nDo x.\n\nFlags:\n  -h, --help\n        print this help\n")
	if strings.Contains(got, "help") {
		t.Errorf("commandRoff listed -h: %q", got)
	}
}

func TestEscapeNonASCII(t *testing.T) {
	if got, want := escape("±10 % … ok"), `\[u00B1]10 % \[u2026] ok`; got != want {
		t.Errorf("escape = %q, want %q", got, want)
	}
}

const md = "# x\n\n### `doctor`: why\n\ntext\n\n```\n$ sudo ecs-keyagent doctor\nok\n```\n\n## Next\n\n" +
	"3. A list item:\n\n   ```\n   # BEGIN m\n   key\n   # END m\n   ```\n\n" +
	"How to do it, in one place: first; or second. More here.\nAnd here.\n\n### Empty\n\n## After\n\n```\nlate\n```\n"

func TestFenced(t *testing.T) {
	got, err := fencedAfter(md, "### `doctor`")
	if err != nil || strings.Join(got, "|") != "$ sudo ecs-keyagent doctor|ok" {
		t.Errorf("fencedAfter(doctor) = %q, %v", got, err)
	}
	if got, err := fencedAfter(md, "### Empty"); err == nil {
		t.Errorf("fencedAfter(a heading whose section has no block) = %q, want an error", got)
	}
	got, err = fencedWith(md, "# BEGIN m", "# END m")
	if err != nil || strings.Join(got, "|") != "# BEGIN m|key|# END m" {
		t.Errorf("fencedWith(markers) = %q, %v; want the list item's block, unindented", got, err)
	}
	if _, err := fencedWith(md, "# BEGIN other"); err == nil {
		t.Errorf("fencedWith(missing) = nil error")
	}
	if got, want := exampleRoff([]string{"$ a --b", ".dot"}), ".PP\n.in +4n\n.EX\n$ a \\-\\-b\n\\&.dot\n.EE\n.in\n"; got != want {
		t.Errorf("exampleRoff = %q, want %q", got, want)
	}
}

func TestSentence(t *testing.T) {
	got, err := sentence(md, "How to do it")
	if want := "first; or second."; err != nil || got != want {
		t.Errorf("sentence = %q, %v; want %q", got, err, want)
	}
	if _, err := sentence(md, "Nowhere"); err == nil {
		t.Errorf("sentence(missing) = nil error")
	}
}

func TestCheckInvocations(t *testing.T) {
	helps := map[string]string{
		"":       "Usage: ecs-keyagent [--log-level LEVEL] COMMAND [flags]\n       ecs-keyagent --version | help [COMMAND]\n",
		"sync":   "Flags:\n  --dry-run\n        show\n  --root DIR\n        root\n  -h, --help\n        help\n",
		"doctor": "Flags:\n  --key FILE\n        key\n",
	}
	good := ".B ecs\\-keyagent\n.BR ecs\\-keyagent.service ,\n.B ecs\\-keyagent sync\n.EX\n$ sudo ecs\\-keyagent \\-\\-log\\-level debug sync \\-\\-dry\\-run \\-\\-root=/mnt\n" +
		"$ sudo systemctl stop x && sudo ecs\\-keyagent doctor \\-\\-key id.pub\nok    ecs\\-keyagent: fine\n$ ecs\\-keyagent \\-\\-version\n.EE\n" +
		"prose: run ecs\\-keyagent nosuch in text\n"
	if err := checkInvocations(good, helps); err != nil {
		t.Errorf("checkInvocations(good) = %v", err)
	}
	for _, bad := range []string{
		".EX\n$ sudo ecs\\-keyagent snyc\n.EE\n",
		".EX\n$ ecs\\-keyagent sync \\-\\-json\n.EE\n",
		".B ecs\\-keyagent doctor \\-\\-fingerprint X\n",
		".EX\n$ ecs\\-keyagent \\-\\-dry\\-run sync\n.EE\n",
	} {
		if err := checkInvocations(bad, helps); err == nil {
			t.Errorf("checkInvocations(%q) = nil, want an error", bad)
		}
	}
}
