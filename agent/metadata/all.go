package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The whole metadata tree as one JSON document (Alibaba Cloud, "Instance
// metadata"). cloud-init's aliyun datasource reads it first and crawls the
// tree when it answers 404 (cloudinit/sources/helpers/aliyun.py,
// get_instance_meta_data; cloudinit/sources/DataSourceAliYun.py,
// crawl_metadata): one request where the crawl takes three or more.
const (
	allPath = "/latest/meta-data/all"
	// maxAllBody bounds the document. It carries the instance's network
	// description, user and vendor data stay out of it, and a real one
	// holds a few KiB; a larger answer is refused as the crawl refuses a
	// listing or a key over maxBody.
	maxAllBody = 512 << 10
)

// allDoc is what the agent reads of the all document.
type allDoc struct {
	instanceID string
	keys       []idBody // in document order; nil when it lists no key
}

// idBody is one openssh-key body under a key id, before de-duplication.
type idBody struct {
	id   string
	body []byte
}

// parseAll reads the all document: a JSON object whose "instance-id" is a
// string and whose "public-keys", when present, maps each key id to its
// key: a string, a list of strings, or an object whose "openssh-key" is
// one of those (the forms cloud-init's parse_public_keys takes). Every
// other member is skipped unread. Strings are leaves as the tree serves
// them: trailing "\r" and "\n" are dropped, and anything else reaches
// keys.ParseKey as it is, which refuses a second line or a control
// character, as for a body the crawl fetched. A document that is not
// UTF-8 JSON, a member the agent reads named twice, a key id the listing
// would refuse, more than maxListEntries keys or a key over maxBody make
// the whole document an error: a document we do not understand is no
// basis for changing authorized_keys.
//
// It validates the document once (json.Valid) and then walks the members
// it needs without decoding the rest: an idle poll reads this document
// every time.
func parseAll(body []byte) (allDoc, error) {
	if !utf8.Valid(body) {
		// encoding/json would replace the bad bytes; the crawl refuses them.
		return allDoc{}, errors.New("not valid UTF-8")
	}
	if !json.Valid(body) {
		return allDoc{}, errors.New("malformed JSON")
	}
	var doc allDoc
	var haveID, haveKeys bool
	err := eachMember(body, func(name string, v []byte) error {
		switch name {
		case "instance-id":
			if haveID {
				return errors.New(`member "instance-id" appears twice`)
			}
			haveID = true
			id, ok := jsonString(v)
			if !ok {
				return errors.New("instance-id is not a string")
			}
			id = strings.TrimSpace(id)
			switch {
			case id == "":
				return errors.New("empty instance id")
			case len(id) > maxInstanceID:
				return fmt.Errorf("instance id is longer than %d bytes", maxInstanceID)
			case !printable(id):
				return fmt.Errorf("instance id %q has characters other than printable ascii", truncate(id, 80))
			}
			doc.instanceID = id
		case "public-keys":
			if haveKeys {
				return errors.New(`member "public-keys" appears twice`)
			}
			haveKeys = true
			keys, err := parsePublicKeys(v)
			if err != nil {
				return err
			}
			doc.keys = keys
		}
		return nil
	})
	if err != nil {
		return allDoc{}, err
	}
	if !haveID {
		return allDoc{}, errors.New("no instance-id")
	}
	return doc, nil
}

// parsePublicKeys reads the "public-keys" member: null, or an object of
// key ids.
func parsePublicKeys(v []byte) ([]idBody, error) {
	if string(v) == "null" {
		return nil, nil
	}
	var out []idBody
	seen := map[string]bool{}
	err := eachMember(v, func(id string, v []byte) error {
		if seen[id] {
			return fmt.Errorf("public-keys entry %q appears twice", truncate(id, 80))
		}
		if seen[id] = true; len(seen) > maxListEntries {
			return fmt.Errorf("public-keys has more than %d entries", maxListEntries)
		}
		if !listEntry.MatchString(id + "/") {
			return fmt.Errorf("malformed public-keys entry %q", truncate(id, 80))
		}
		bodies, err := keyBodies(v, true)
		if err != nil {
			return fmt.Errorf("public-keys entry %q: %w", id, err)
		}
		if len(bodies) == 0 {
			return fmt.Errorf("public-keys entry %q has no openssh-key", id)
		}
		for _, b := range bodies {
			if len(out) == maxListEntries {
				return fmt.Errorf("public-keys has more than %d keys", maxListEntries)
			}
			out = append(out, idBody{id: id, body: b})
		}
		return nil
	})
	return out, err
}

// keyBodies reads one key id's value: a string, a list of strings or, at
// the top (nested), an object whose openssh-key is one of those.
func keyBodies(v []byte, nested bool) ([][]byte, error) {
	switch v[0] {
	case '"':
		s, _ := jsonString(v)
		b, err := leaf(s)
		return [][]byte{b}, err
	case '[':
		var out [][]byte
		err := eachElement(v, func(e []byte) error {
			s, ok := jsonString(e)
			if !ok {
				return errors.New("openssh-key list holds something other than strings")
			}
			b, err := leaf(s)
			out = append(out, b)
			return err
		})
		return out, err
	case '{':
		if !nested {
			break
		}
		var key []byte
		err := eachMember(v, func(name string, v []byte) error {
			if name != "openssh-key" {
				return nil
			}
			if key != nil {
				return errors.New(`member "openssh-key" appears twice`)
			}
			key = v
			return nil
		})
		if err != nil || key == nil {
			return nil, err
		}
		return keyBodies(key, false)
	}
	return nil, errors.New("openssh-key is neither a string nor a list of strings")
}

// leaf is one openssh-key string as a body, trailing line ends dropped.
func leaf(s string) ([]byte, error) {
	s = strings.TrimRight(s, "\r\n")
	if len(s) > maxBody {
		return nil, fmt.Errorf("openssh-key of %d bytes exceeds the limit of %d", len(s), maxBody)
	}
	return []byte(s), nil
}

// The walkers below take JSON text that json.Valid accepted, so they need
// not check its syntax, only find where each value ends.

// eachMember calls fn with the name and the value's text of each member of
// the JSON object v, in order; anything but an object is an error.
func eachMember(v []byte, fn func(name string, value []byte) error) error {
	i := skipSpace(v, 0)
	if i == len(v) || v[i] != '{' {
		return errors.New("not a JSON object")
	}
	for i = skipSpace(v, i+1); i < len(v) && v[i] != '}'; {
		end := endOfValue(v, i)
		name, _ := jsonString(v[i:end])
		i = skipSpace(v, end)
		i = skipSpace(v, i+1) // the colon
		end = endOfValue(v, i)
		if err := fn(name, v[i:end]); err != nil {
			return err
		}
		if i = skipSpace(v, end); i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil
}

// eachElement calls fn with the text of each element of the JSON array v.
func eachElement(v []byte, fn func(value []byte) error) error {
	for i := skipSpace(v, 1); i < len(v) && v[i] != ']'; {
		end := endOfValue(v, i)
		if err := fn(v[i:end]); err != nil {
			return err
		}
		if i = skipSpace(v, end); i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n') {
		i++
	}
	return i
}

// endOfValue returns the index just after the value that starts at i.
func endOfValue(v []byte, i int) int {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			continue
		case '}', ']':
			depth--
		default:
			if depth == 0 {
				for i < len(v) && !strings.ContainsRune(",}] \t\r\n", rune(v[i])) {
					i++
				}
				return i
			}
			continue
		}
		if depth == 0 {
			return i + 1
		}
	}
	return len(v)
}

// jsonString decodes the JSON string text v; ok is false when v is another
// kind of value.
func jsonString(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	err := json.Unmarshal(v, &s)
	return s, err == nil
}
