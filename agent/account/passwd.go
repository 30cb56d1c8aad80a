// Package account reads the local account databases (passwd, shadow and
// group) under a filesystem root, for the users whose keys the agent
// manages. The files are read directly, not through NSS, and of a shadow
// entry only a digest and whether it holds a usable password leave it.
package account

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Account is what the agent needs of a passwd entry.
type Account struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string
}

// ErrNoUser is returned when the passwd database has no such user.
var ErrNoUser = errors.New("no such user")

// maxPasswdSize bounds how much of /etc/passwd we read.
const maxPasswdSize = 16 << 20

// Lookup reads name from <root>/etc/passwd. The file is read directly,
// not through NSS: under --root the host's NSS would answer for the wrong
// system, and the users this agent serves (root, ecs-user) are local ones.
func Lookup(root, name string) (Account, error) { return NewFiles(root).Lookup(name) }

// lookup finds name in data, the content of the passwd file at path: the
// first line that starts with "name:".
func lookup(data []byte, path, name string) (Account, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) <= len(name) || line[len(name)] != ':' || string(line[:len(name)]) != name {
			continue
		}
		return parsePasswdLine(string(line))
	}
	if err := sc.Err(); err != nil {
		return Account{}, fmt.Errorf("look up user %s: read %s: %w", name, path, err)
	}
	return Account{}, fmt.Errorf("look up user %s in %s: %w", name, path, ErrNoUser)
}

func parsePasswdLine(line string) (Account, error) {
	fields := strings.Split(line, ":")
	if len(fields) != 7 {
		return Account{}, fmt.Errorf("parse passwd entry %q: want 7 fields, got %d", fields[0], len(fields))
	}
	uid, err := strconv.Atoi(fields[2])
	if err != nil || uid < 0 {
		return Account{}, fmt.Errorf("parse passwd entry %q: bad uid %q", fields[0], fields[2])
	}
	gid, err := strconv.Atoi(fields[3])
	if err != nil || gid < 0 {
		return Account{}, fmt.Errorf("parse passwd entry %q: bad gid %q", fields[0], fields[3])
	}
	home := fields[5]
	if !filepath.IsAbs(home) || filepath.Clean(home) != home || home == "/" {
		return Account{}, fmt.Errorf("parse passwd entry %q: home %q is not a clean absolute path below /", fields[0], home)
	}
	return Account{Name: fields[0], UID: uid, GID: gid, Home: home, Shell: fields[6]}, nil
}

// List returns every well-formed entry of <root>/etc/passwd, in file order.
func List(root string) ([]Account, error) {
	path := filepath.Join(root, "etc/passwd")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer f.Close()
	var out []Account
	sc := bufio.NewScanner(io.LimitReader(f, maxPasswdSize))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		if a, err := parsePasswdLine(sc.Text()); err == nil {
			out = append(out, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("list users: read %s: %w", path, err)
	}
	return out, nil
}
