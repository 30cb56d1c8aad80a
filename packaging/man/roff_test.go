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
