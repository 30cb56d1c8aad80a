package sshd

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Markers. keep must find exactly what disable wrote, so these never change.
const (
	dropInName     = "00-ecs-keyagent.conf"
	dropInHeader   = "# Written by ecs-keyagent."
	blockBegin     = "# BEGIN ecs-keyagent"
	blockEnd       = "# END ecs-keyagent"
	disabledPrefix = "#ecs-keyagent-disabled# "
)

const why = "# An SSH key pair is bound to this ECS instance, so password login is disabled.\n" +
	"# It comes back when the key pair is detached or the password is reset (mode\n" +
	"# \"platform\"), or with [sshd] modes \"keep\" in /etc/ecs-keyagent/config.toml.\n"

// keyNames are the spellings the agent writes.
var keyNames = map[string]string{kwPassword: "PasswordAuthentication", kwKbd: "KbdInteractiveAuthentication"}

// settingLines are the lines that set key to no. Keyboard-interactive gets
// a second line, ChallengeResponseAuthentication no: before OpenSSH 8.7
// that is a keyword of its own, yes by default, and while it is yes sshd
// turns KbdInteractiveAuthentication on whatever that says ("challenge-
// response is implemented via keyboard interactive", sshd.c of 8.6; Debian
// 11 has 8.4, RHEL 8 has 8.0). 8.7 made it an alias of
// KbdInteractiveAuthentication (release notes), so there the second line
// sets nothing: sshd takes the first value.
func settingLines(key string) string {
	if key == kwKbd {
		return keyNames[key] + " no\nChallengeResponseAuthentication no\n"
	}
	return keyNames[key] + " no\n"
}

// plan is the configuration the agent wants, laid over the disk in src.
type plan struct {
	src     *source
	cfg     *config  // parsed with the plan applied
	touched []string // sshd paths the plan sets or removes, changed or not
	how     string
	managed string // the file holding the agent's settings; "" when none
}

// makePlan removes whatever the agent wrote before, then, for each key in
// keys, makes "no" the first value sshd obtains: through a drop-in where an
// Include comes first, else by editing the main file.
//
// With vendor set, main is openSUSE's vendor file: it is never edited, so
// a drop-in is the only way.
func makePlan(root, main string, keys []string, vendor bool) (*plan, error) {
	src := newSource(root)
	cur, err := parseConfig(src, main)
	if err != nil {
		return nil, err
	}
	p := &plan{src: src}
	for _, inc := range cur.includes {
		dir := path.Dir(inc.pattern)
		f := path.Join(dir, dropInName)
		if hasMeta(dir) || slices.Contains(p.touched, f) || !src.exists(f) {
			continue
		}
		b, err := src.read(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if !bytes.HasPrefix(b, []byte(dropInHeader)) {
			return nil, fmt.Errorf("replace %s: not written by ecs-keyagent", f)
		}
		src.remove(f)
		p.touched = append(p.touched, f)
	}
	mainData, _ := src.read(main)
	reverted, err := revertMain(mainData)
	if err != nil {
		return nil, fmt.Errorf("revert %s: %w", main, err)
	}
	src.set(main, reverted)
	p.touched = append(p.touched, main)
	base, err := parseConfig(src, main)
	if err != nil {
		return nil, err
	}
	p.cfg, p.how = base, "none: both modes are keep"
	if len(keys) == 0 {
		return p, nil
	}
	if f, ok := p.tryDropIn(base, keys); ok {
		p.how, p.managed = "drop-in "+f, f
		return p, nil
	}
	if vendor {
		return nil, fmt.Errorf("plan %s: no included directory where the agent's drop-in sorts first; the agent does not edit the vendor file, nor create %s, which would replace it", main, DefaultConfig)
	}
	src.set(main, editMain(reverted, base, keys))
	if p.cfg, err = parseConfig(src, main); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if v, _ := p.cfg.effective(k, nil); v != "no" {
			return nil, fmt.Errorf("plan %s: %s would still be %q", main, keyNames[k], v)
		}
	}
	p.how, p.managed = "marked block in "+main, main
	return p, nil
}

// tryDropIn places our drop-in in the directory of a global Include of the
// main file whose glob matches our name and where it sorts first, and keeps
// it if sshd would then take every key from it.
func (p *plan) tryDropIn(base *config, keys []string) (string, bool) {
	for _, inc := range base.includes {
		dir := path.Dir(inc.pattern)
		f := path.Join(dir, dropInName)
		if inc.file != base.main || inc.match != nil || hasMeta(dir) || !matchName(path.Base(inc.pattern), dropInName) {
			continue
		}
		if len(inc.files) > 0 && inc.files[0] < f {
			continue // something sorts before us (glob order is bytewise)
		}
		p.src.set(f, renderDropIn(keys))
		cfg, err := parseConfig(p.src, base.main)
		if err == nil && firstFrom(cfg, keys, f) {
			p.cfg = cfg
			if !slices.Contains(p.touched, f) {
				p.touched = append(p.touched, f)
			}
			return f, true
		}
		if slices.Contains(p.touched, f) {
			p.src.remove(f)
		} else {
			delete(p.src.overlay, f)
		}
	}
	return "", false
}

// firstFrom reports whether the first global value of every key is in file.
func firstFrom(c *config, keys []string, file string) bool {
	for _, k := range keys {
		if _, d := c.effective(k, nil); d == nil || d.file != file {
			return false
		}
	}
	return true
}

func renderDropIn(keys []string) []byte {
	var b strings.Builder
	b.WriteString(dropInHeader + " It is named 00- to sort before every other drop-in:\n")
	b.WriteString("# sshd takes the first value it obtains for each keyword (sshd_config(5)).\n")
	b.WriteString(why)
	for _, k := range keys {
		b.WriteString(settingLines(k))
	}
	return []byte(b.String())
}

func renderBlock(keys []string) string {
	var b strings.Builder
	b.WriteString(blockBegin + ": written by ecs-keyagent, placed before the first Include and\n")
	b.WriteString("# Match because sshd takes the first value it obtains (sshd_config(5)). Lines it\n")
	b.WriteString("# disabled start with \"" + strings.TrimSpace(disabledPrefix) + "\".\n")
	b.WriteString(why)
	for _, k := range keys {
		b.WriteString(settingLines(k))
	}
	b.WriteString(blockEnd + "\n")
	return b.String()
}
