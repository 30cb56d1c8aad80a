package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// escape makes text safe in a roff line: backslashes and hyphens escaped,
// characters outside ASCII written as groff's \[uXXXX] (the page then
// renders the same with or without preconv), and a leading dot or quote,
// which roff would read as a request, guarded.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case r > unicode.MaxASCII:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	s = b.String()
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

// fence returns the code blocks of a Markdown text, each with the line
// before its opening fence: the lines between the fences, with the fence's
// indentation removed (a block inside a list item is indented).
func fences(md string) (blocks [][]string, starts []int) {
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		open := strings.TrimLeft(lines[i], " ")
		if !strings.HasPrefix(open, "```") {
			continue
		}
		indent := len(lines[i]) - len(open)
		var block []string
		j := i + 1
		for ; j < len(lines) && !strings.HasPrefix(strings.TrimLeft(lines[j], " "), "```"); j++ {
			l := lines[j]
			if len(l)-len(strings.TrimLeft(l, " ")) >= indent {
				l = l[indent:]
			}
			block = append(block, l)
		}
		blocks, starts = append(blocks, block), append(starts, i)
		i = j
	}
	return blocks, starts
}

// fencedAfter returns the first code block in the section whose heading
// starts with heading, before the next heading.
func fencedAfter(md, heading string) ([]string, error) {
	lines := strings.Split(md, "\n")
	blocks, starts := fences(md)
	for h, l := range lines {
		if !strings.HasPrefix(l, heading) {
			continue
		}
		for i, start := range starts {
			if start < h {
				continue
			}
			for _, between := range lines[h+1 : start] {
				if strings.HasPrefix(between, "#") {
					return nil, fmt.Errorf("find a code block under %q in the README: none before the next heading", heading)
				}
			}
			return blocks[i], nil
		}
		break
	}
	return nil, fmt.Errorf("find a code block under %q in the README: no such heading or block", heading)
}

// fencedWith returns the first code block that holds every one of lines.
func fencedWith(md string, lines ...string) ([]string, error) {
	blocks, _ := fences(md)
	for _, b := range blocks {
		all := true
		for _, l := range lines {
			all = all && slices.Contains(b, l)
		}
		if all {
			return b, nil
		}
	}
	return nil, fmt.Errorf("find a code block with %q in the README: none", lines)
}

// sentence returns, in roff, the first sentence of the paragraph of md
// that starts with prefix, without its lead-in ("prefix...: ").
func sentence(md, prefix string) (string, error) {
	for _, p := range strings.Split(md, "\n\n") {
		p = strings.Join(strings.Fields(p), " ")
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		if i := strings.Index(p, ". "); i >= 0 {
			p = p[:i+1]
		}
		if _, rest, ok := strings.Cut(p, ": "); ok {
			p = rest
		}
		return inline(p), nil
	}
	return "", fmt.Errorf("find the paragraph %q... in the README: not there", prefix)
}

// exampleRoff renders lines as an indented example in no-fill mode, as
// man-pages(7) sets examples.
func exampleRoff(lines []string) string {
	var b strings.Builder
	b.WriteString(".PP\n.in +4n\n.EX\n")
	for _, l := range lines {
		b.WriteString(escape(l) + "\n")
	}
	b.WriteString(".EE\n.in\n")
	return b.String()
}

// invocation matches a command line shown on the page, once unescaped:
// "ecs-keyagent ...", after a "$ " prompt, "sudo " or "&& ".
var invocation = regexp.MustCompile(`(?:^|\$ |sudo |&& )ecs-keyagent((?: +[^ &|;#]+)*)`)

// checkInvocations finds every command line in the page's examples (.EX
// blocks) and bold lines, and checks its command and flags against the
// binary's help texts (helps[""] is the program's own, helps[NAME] a
// command's).
func checkInvocations(page string, helps map[string]string) error {
	var errs []string
	inEx := false
	for _, l := range strings.Split(page, "\n") {
		switch {
		case l == ".EX":
			inEx = true
			continue
		case l == ".EE":
			inEx = false
			continue
		case strings.HasPrefix(l, ".B ") || strings.HasPrefix(l, ".BR "):
			l = strings.ReplaceAll(strings.SplitN(l, " ", 2)[1], `"`, "")
		case !inEx:
			continue
		}
		text := strings.NewReplacer(`\-`, "-", `\e`, `\`, `\&`, "", `\fB`, "", `\fR`, "", `\fI`, "").Replace(l)
		for _, m := range invocation.FindAllStringSubmatch(text, -1) {
			if err := checkInvocation(strings.Fields(m[1]), helps); err != nil {
				errs = append(errs, fmt.Sprintf("%q: %v", strings.TrimSpace(text), err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("command lines the binary does not accept:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// checkInvocation checks the arguments of one command line: the first
// word that is neither a flag nor a flag's value is the command, and each
// --flag must be in the help of the command it follows (or the program's).
// A flag shown with a value (--root DIR) takes the next word unless it
// has one after "=".
func checkInvocation(args []string, helps map[string]string) error {
	cmd := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if cmd != "" {
				return fmt.Errorf("%q: the commands take no arguments", a)
			}
			if _, ok := helps[a]; !ok && a != "help" {
				return fmt.Errorf("no command %q", a)
			}
			cmd = a
			if a == "help" {
				return nil
			}
			continue
		}
		name, _, hasValue := strings.Cut(a, "=")
		q := regexp.QuoteMeta(name)
		h := helps[cmd]
		if !regexp.MustCompile(`(?:^|[\s\[])` + q + `(?:[\s\]=]|$)`).MatchString(h) {
			return fmt.Errorf("no flag %s for %q", name, cmd)
		}
		if !hasValue && regexp.MustCompile(`(?m)(?:^|[\s\[])`+q+` [A-Z]`).MatchString(h) {
			i++
		}
	}
	return nil
}
