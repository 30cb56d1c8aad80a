// Command man generates the manual page ecs-keyagent(8) for the packages
// (`make man`). The page is a roff template, ecs-keyagent.8.in, filled in
// from the repository so that it cannot drift from the program: the commands
// and their flags come from the built binary's own -h output; the
// configuration and exit status tables, the example of the managed block
// (which must hold the marker lines package keys writes), the doctor
// example and the ways to get password login back from README.md. Every
// command line the page shows (ecs-keyagent COMMAND --flag ...) is checked
// against the binary's -h: a command or flag it does not have fails the
// build.
//
//	go run ./packaging/man -bin bin/ecs-keyagent -readme README.md \
//	    -template packaging/man/ecs-keyagent.8.in -version V -date YYYY-MM-DD -o OUT.8.gz
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "man: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("man", flag.ContinueOnError)
	bin := fs.String("bin", "bin/ecs-keyagent", "ecs-keyagent binary for this machine, asked for its -h output")
	readme := fs.String("readme", "README.md", "README with the configuration and exit status tables")
	tmpl := fs.String("template", "packaging/man/ecs-keyagent.8.in", "roff template")
	version := fs.String("version", "devel", "version for the page footer")
	date := fs.String("date", "", "date for the page footer (YYYY-MM-DD)")
	out := fs.String("o", "ecs-keyagent.8.gz", "output file; gzip-compressed if it ends in .gz")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := os.ReadFile(*tmpl)
	if err != nil {
		return err
	}
	md, err := os.ReadFile(*readme)
	if err != nil {
		return err
	}
	cmds, helps, err := commands(*bin)
	if err != nil {
		return err
	}
	conf, err := tableAfter(string(md), "## Configuration")
	if err != nil {
		return err
	}
	exit, err := tableAfter(string(md), "### Exit status")
	if err != nil {
		return err
	}
	block, err := fencedWith(string(md), keys.BeginMarker, keys.EndMarker)
	if err != nil {
		return err
	}
	doctor, err := fencedAfter(string(md), "### `doctor`")
	if err != nil {
		return err
	}
	passwordBack, err := sentence(string(md), "How to get password login back")
	if err != nil {
		return err
	}
	page := strings.NewReplacer(
		"@VERSION@", escape(*version),
		"@DATE@", escape(*date),
		"@COMMANDS@", cmds,
		"@CONFIGURATION@", tableRoff(conf),
		"@EXIT_STATUS@", tableRoff(exit),
		"@MANAGED_BLOCK@", exampleRoff(block),
		"@DOCTOR_EXAMPLE@", exampleRoff(doctor),
		"@PASSWORD_BACK@", passwordBack,
	).Replace(string(t))
	if p := placeholder.FindString(page); p != "" {
		return fmt.Errorf("fill %s: unknown placeholder %s", *tmpl, p)
	}
	if err := checkInvocations(page, helps); err != nil {
		return fmt.Errorf("fill %s: %w", *tmpl, err)
	}
	data := []byte(page)
	if strings.HasSuffix(*out, ".gz") {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(data) //nolint:errcheck // a bytes.Buffer does not fail
		if err := zw.Close(); err != nil {
			return err
		}
		data = buf.Bytes()
	}
	return os.WriteFile(*out, data, 0o644)
}

// commands renders one subsection per subcommand from `BIN -h` and
// `BIN COMMAND -h`, and returns those help texts by command name ("" for
// the program's own).
func commands(bin string) (string, map[string]string, error) {
	top, err := help(bin, "-h")
	if err != nil {
		return "", nil, err
	}
	helps := map[string]string{"": top}
	var b strings.Builder
	in := false
	for _, l := range strings.Split(top, "\n") {
		switch {
		case l == "Commands:":
			in = true
		case in && strings.HasPrefix(l, "  "):
			name := strings.Fields(l)[0]
			h, err := help(bin, name, "-h")
			if err != nil {
				return "", nil, err
			}
			helps[name] = h
			b.WriteString(commandRoff(name, h))
		case in:
			in = false
		}
	}
	if b.Len() == 0 {
		return "", nil, fmt.Errorf("read commands from %s -h: none listed", bin)
	}
	return b.String(), helps, nil
}

// help returns what bin prints for args (flag's usage goes to stderr).
func help(bin string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("run %s %s: %w", bin, strings.Join(args, " "), err)
	}
	return out.String(), nil
}
