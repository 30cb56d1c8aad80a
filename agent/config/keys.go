package config

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// keySpec is one key of the configuration as Config declares it.
type keySpec struct {
	name  string       // dotted: "users", "sshd.config"
	kind  reflect.Type // the field's type
	want  string       // the want tag: what the key takes, in words
	table bool         // a TOML table such as [sshd]
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// knownKeys lists every key of Config, tables before their keys, in the
// order of the struct: the same list the decoder fills, so it cannot drift.
func knownKeys() []keySpec {
	var out []keySpec
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			s := keySpec{name: prefix + name, kind: f.Type, want: f.Tag.Get("want")}
			if s.want == "" {
				panic("config: field " + f.Name + " has no want tag")
			}
			isText := reflect.PointerTo(f.Type).Implements(textUnmarshaler)
			s.table = f.Type.Kind() == reflect.Struct && !isText
			out = append(out, s)
			if s.table {
				walk(s.name+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	return out
}

// checkKeys reports the first key in data, in the order of the file, that
// Config does not have (with the closest known key when one is close) or
// whose value has the wrong TOML type (with what the key wants). A syntax
// error is left to the decoder that follows, which reports it with its line.
func checkKeys(data []byte) error {
	var raw map[string]any
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		return nil
	}
	known := knownKeys()
	for _, key := range md.Keys() {
		name := key.String()
		var spec *keySpec
		for i := range known {
			if known[i].name == name {
				spec = &known[i]
			}
		}
		if spec == nil {
			if parent := key[:len(key)-1]; len(parent) > 0 && !isKnownTable(known, parent.String()) {
				continue // reported at its table
			}
			msg := fmt.Sprintf("line %d: unknown key %q", keyLine(data, key), name)
			if s := suggest(known, name); s != "" {
				msg += "; did you mean " + s + "?"
			}
			return fmt.Errorf("%s", msg)
		}
		if got, ok := typeOK(spec, lookup(raw, key)); !ok {
			return fmt.Errorf("line %d: %s: want %s, got %s", keyLine(data, key), name, spec.want, got)
		}
	}
	return nil
}

func isKnownTable(known []keySpec, name string) bool {
	for _, k := range known {
		if k.name == name && k.table {
			return true
		}
	}
	return false
}

// lookup returns the value of key in the generic decoding.
func lookup(raw map[string]any, key toml.Key) any {
	var v any = raw
	for _, k := range key {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// typeOK reports whether v has the TOML type spec's field decodes from,
// and else names v's type in words. Values with a meaning of their own
// (TextUnmarshaler) are strings here; their content they check themselves.
func typeOK(spec *keySpec, v any) (got string, ok bool) {
	got = tomlTypeName(v)
	switch t := spec.kind; {
	case spec.table:
		_, ok = v.(map[string]any)
	case reflect.PointerTo(t).Implements(textUnmarshaler), t.Kind() == reflect.String:
		_, ok = v.(string)
	case t.Kind() == reflect.Bool:
		_, ok = v.(bool)
	case t.Kind() == reflect.Int:
		_, ok = v.(int64)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		list, isList := v.([]any)
		ok = isList
		for _, e := range list {
			if _, isString := e.(string); !isString {
				return "a list holding " + tomlTypeName(e), false
			}
		}
	default:
		panic("config: no TOML type check for " + t.String())
	}
	return got, ok
}

// tomlTypeName names the type of a generically decoded TOML value.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "a whole number"
	case float64:
		return "a number with a fraction"
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case []map[string]any:
		return "a list of tables"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date or time"
	}
	return fmt.Sprintf("a value of type %T", v)
}

// suggest returns the known key closest to the unknown name, quoted and
// with where it belongs when that is another table, or "" when none is
// close: a misspelling (a few edits), the start of a longer key
// ("password" for "password_authentication"), or a key in the wrong table.
func suggest(known []keySpec, name string) string {
	table, leaf := splitKey(name)
	best, bestScore := keySpec{}, -1
	for _, k := range known {
		kt, kl := splitKey(k.name)
		score := -1
		switch {
		case kl == leaf && kt != table:
			score = 0
		case kt == table && len(leaf) >= 4 && strings.HasPrefix(kl, leaf):
			score = 1
		case kt == table:
			if d := distance(leaf, kl); d <= max(1, len(leaf)/3) {
				score = 1 + d
			}
		}
		if score >= 0 && (bestScore < 0 || score < bestScore) {
			best, bestScore = k, score
		}
	}
	if bestScore < 0 {
		return ""
	}
	kt, _ := splitKey(best.name)
	switch {
	case kt == table:
		return fmt.Sprintf("%q", best.name)
	case kt == "":
		return fmt.Sprintf("%q (at the top, before any [table] line)", best.name)
	}
	return fmt.Sprintf("%q (under [%s])", best.name, kt)
}

// splitKey splits a dotted key into its table and its own name.
func splitKey(name string) (table, leaf string) {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// distance is the optimal string alignment distance between a and b: the
// edits (insert, delete, substitute, swap two neighbours) from one to the
// other. Keys are ASCII.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
