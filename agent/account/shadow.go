package account

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Password is what the agent may know of a user's /etc/shadow entry: never
// the hash itself, only whether it can be used to log in and a digest that
// changes whenever the password is set again.
type Password struct {
	// Usable: the hash field holds a hash, not "", "*", "!" or a "!"-locked
	// one (shadow(5): a leading "!" locks the password).
	Usable bool
	// Locked: the hash starts with "!" (passwd -l, usermod -L).
	Locked bool
	// Expired: the account's expiration date (shadow(5) field 8) has passed.
	Expired bool
	// Digest is a SHA-256 over the user name, the hash field and the date of
	// the last change (shadow(5) fields 1 to 3): chpasswd and passwd change
	// it, nothing else does. "" when the entry is missing.
	Digest string
}

// ReadPasswords returns the shadow entries of names under root, keyed by
// name; a name without an entry is absent from the map. A missing
// /etc/shadow gives an empty map.
func ReadPasswords(root string, names []string) (map[string]Password, error) {
	return NewFiles(root).ReadPasswords(names)
}

// shadowEntry is what ReadPasswords keeps of one name's entry: the
// expiry is judged at each call, against the day it is then.
type shadowEntry struct {
	found   bool
	pw      Password // Expired unset
	expires int64    // days since 1970-01-01 (shadow(5) field 8); -1 for never
}

func (e shadowEntry) password(now time.Time) Password {
	p := e.pw
	p.Expired = e.expires >= 0 && now.Unix()/86400 >= e.expires
	return p
}

// parseShadow finds names in data, the content of the shadow file at path.
func parseShadow(data []byte, path string, names []string) (map[string]shadowEntry, error) {
	out := make(map[string]shadowEntry, len(names))
	for _, n := range names {
		out[n] = shadowEntry{expires: -1}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		name, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		e, want := out[string(name)]
		if !want || e.found {
			continue // the first entry is the one that counts, as for passwd
		}
		fields := strings.Split(string(rest), ":")
		hash, changed := fields[0], ""
		if len(fields) > 1 {
			changed = fields[1]
		}
		e = shadowEntry{found: true, expires: -1}
		if len(fields) > 6 && fields[6] != "" {
			if days, err := strconv.Atoi(fields[6]); err == nil {
				e.expires = int64(days)
			}
		}
		sum := sha256.Sum256([]byte(string(name) + "\x00" + hash + "\x00" + changed))
		e.pw = Password{
			Usable: hash != "" && !strings.HasPrefix(hash, "!") && !strings.HasPrefix(hash, "*"),
			Locked: strings.HasPrefix(hash, "!"),
			Digest: hex.EncodeToString(sum[:]),
		}
		out[string(name)] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// Groups returns the names of the groups a is a member of: its primary
// group and every group in /etc/group under root that lists it.
func Groups(root string, a Account) ([]string, error) { return NewFiles(root).Groups(a) }

// groups finds a's groups in data, the content of the group file at path.
func groups(data []byte, path string, a Account) ([]string, error) {
	var out []string
	gid := strconv.Itoa(a.GID)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) != 4 {
			continue
		}
		member := fields[2] == gid
		for _, m := range strings.Split(fields[3], ",") {
			member = member || m == a.Name
		}
		if member {
			out = append(out, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
