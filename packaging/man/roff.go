package main

import (
	"fmt"
	"regexp"
	"strings"
)

// escape makes text safe in a roff line: backslashes and hyphens escaped,
// and a leading dot or quote, which roff would read as a request, guarded.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

var (
	codeSpan = regexp.MustCompile("`([^`]*)`")
	mdLink   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// inline turns a Markdown table cell into roff: code spans in bold, links
// reduced to their text.
func inline(s string) string {
	s = mdLink.ReplaceAllString(s, "$1")
	var b strings.Builder
	last := 0
	for _, m := range codeSpan.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(escape(s[last:m[0]]))
		b.WriteString(`\fB` + escape(s[m[2]:m[3]]) + `\fR`)
		last = m[1]
	}
	b.WriteString(escape(s[last:]))
	return strings.TrimSpace(b.String())
}

// tableAfter returns the rows (header and separator dropped) of the first
// Markdown table after the line heading.
func tableAfter(md, heading string) ([][]string, error) {
	lines := strings.Split(md, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == heading {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("find %q in the README: not there", heading)
	}
	var rows [][]string
	for _, l := range lines[start+1:] {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 3 {
		return nil, fmt.Errorf("read the table after %q: no rows", heading)
	}
	return rows[2:], nil
}

// tableRoff renders rows of (term, value..., meaning) as a tagged list: the
// first cell as the tag, the middle cells in parentheses, the last as text.
func tableRoff(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(".TP\n")
		b.WriteString(inline(r[0]))
		if len(r) > 2 {
			mid := make([]string, 0, len(r)-2)
			for _, c := range r[1 : len(r)-1] {
				mid = append(mid, inline(c))
			}
			b.WriteString(" (default " + strings.Join(mid, ", ") + ")")
		}
		b.WriteString("\n" + inline(r[len(r)-1]) + "\n")
	}
	return b.String()
}

// commandRoff renders one subcommand's -h output: its usage line as the
// synopsis, its one-line description, its flags as a tagged list, and its
// examples.
func commandRoff(name, help string) string {
	var b strings.Builder
	var usage, short string
	var flags, examples [][2]string
	section := ""
	lines := strings.Split(help, "\n")
	next := func(i int, indent string) (string, int) {
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], indent) {
			return strings.TrimSpace(lines[i+1]), i + 1
		}
		return "", i
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "Usage: "):
			usage = strings.TrimPrefix(l, "Usage: ecs-keyagent "+name)
		case l == "Flags:" || l == "Examples:":
			section = l
		case strings.HasPrefix(l, "Exit status:"):
			section = ""
		case section == "Flags:" && strings.HasPrefix(l, "  --"):
			f := [2]string{strings.TrimPrefix(strings.TrimSpace(l), "--")}
			f[1], i = next(i, "        ")
			flags = append(flags, f)
		case section == "Examples:" && strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   "):
			ex := [2]string{strings.TrimSpace(l)}
			ex[1], i = next(i, "      ")
			examples = append(examples, ex)
		case short == "" && usage != "" && l != "" && section == "":
			short = strings.TrimSuffix(l, ".")
		}
	}
	fmt.Fprintf(&b, ".SS %s\n.B ecs\\-keyagent %s\n%s\n.PP\n%s.\n", escape(name), escape(name), escape(strings.TrimSpace(usage)), escape(short))
	for _, f := range flags {
		tag, arg, _ := strings.Cut(f[0], " ")
		fmt.Fprintf(&b, ".TP\n.BR \\-\\-%s", escape(tag))
		if arg != "" {
			fmt.Fprintf(&b, " \" \\fI%s\\fR\"", escape(arg))
		}
		fmt.Fprintf(&b, "\n%s\n", escape(f[1]))
	}
	if len(examples) > 0 {
		b.WriteString(".PP\nExamples:\n")
		for _, ex := range examples {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", escape(ex[0]), escape(ex[1]))
		}
	}
	return b.String()
}
