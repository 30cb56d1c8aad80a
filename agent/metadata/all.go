package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// character, as for a body the crawl fetched. A member named twice, a key
// id the listing would refuse, more than maxListEntries keys or a key
// over maxBody make the whole document an error: a document we do not
// understand is no basis for changing authorized_keys.
func parseAll(body []byte) (allDoc, error) {
	if !utf8.Valid(body) {
		// encoding/json would replace the bad bytes; the crawl refuses them.
		return allDoc{}, errors.New("not valid UTF-8")
	}
	var doc allDoc
	var haveID bool
	err := eachMember(body, func(name string, dec *json.Decoder) (bool, error) {
		switch name {
		case "instance-id":
			var id string
			if err := dec.Decode(&id); err != nil {
				return true, fmt.Errorf("instance-id is not a string")
			}
			id = strings.TrimSpace(id)
			switch {
			case id == "":
				return true, fmt.Errorf("empty instance id")
			case len(id) > maxInstanceID:
				return true, fmt.Errorf("instance id is longer than %d bytes", maxInstanceID)
			case !printable(id):
				return true, fmt.Errorf("instance id %q has characters other than printable ascii", truncate(id, 80))
			}
			doc.instanceID, haveID = id, true
			return true, nil
		case "public-keys":
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return true, fmt.Errorf("malformed JSON: %w", err)
			}
			keys, err := parsePublicKeys(raw)
			doc.keys = keys
			return true, err
		}
		return false, nil
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
func parsePublicKeys(raw json.RawMessage) ([]idBody, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var out []idBody
	ids := 0
	err := eachMember(raw, func(id string, dec *json.Decoder) (bool, error) {
		if ids++; ids > maxListEntries {
			return true, fmt.Errorf("public-keys has more than %d entries", maxListEntries)
		}
		if !listEntry.MatchString(id + "/") {
			return true, fmt.Errorf("malformed public-keys entry %q", truncate(id, 80))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return true, fmt.Errorf("malformed JSON: %w", err)
		}
		bodies, err := keyBodies(v, true)
		if err != nil {
			return true, fmt.Errorf("public-keys entry %q: %w", id, err)
		}
		if len(bodies) == 0 {
			return true, fmt.Errorf("public-keys entry %q has no openssh-key", id)
		}
		for _, b := range bodies {
			if len(out) == maxListEntries {
				return true, fmt.Errorf("public-keys has more than %d keys", maxListEntries)
			}
			out = append(out, idBody{id: id, body: b})
		}
		return true, nil
	})
	return out, err
}

// keyBodies reads one key id's value: a string, a list of strings or, at
// the top (nested), an object whose openssh-key is one of those.
func keyBodies(v json.RawMessage, nested bool) ([][]byte, error) {
	switch v = bytes.TrimLeft(v, " \t\r\n"); {
	case len(v) > 0 && v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, err
		}
		b, err := leaf(s)
		return [][]byte{b}, err
	case len(v) > 0 && v[0] == '[':
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, errors.New("openssh-key list holds something other than strings")
		}
		var out [][]byte
		for _, s := range list {
			b, err := leaf(s)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
		return out, nil
	case len(v) > 0 && v[0] == '{' && nested:
		var key json.RawMessage
		err := eachMember(v, func(name string, dec *json.Decoder) (bool, error) {
			if name != "openssh-key" {
				return false, nil
			}
			return true, dec.Decode(&key)
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

// eachMember walks the members of the JSON object in data, in order, and
// calls fn with each name and a decoder positioned at its value. fn
// returns whether it read the value; when it did not, the value is
// skipped without being stored. A name seen twice, anything but one
// object, or trailing data is an error.
func eachMember(data []byte, fn func(name string, dec *json.Decoder) (bool, error)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON: %w", err)
		}
		name, _ := t.(string)
		if seen[name] {
			return fmt.Errorf("member %q appears twice", truncate(name, 80))
		}
		seen[name] = true
		read, err := fn(name, dec)
		if err != nil {
			return err
		}
		if !read {
			var skip skipValue
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("malformed JSON: %w", err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// skipValue takes any JSON value and keeps nothing of it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }
