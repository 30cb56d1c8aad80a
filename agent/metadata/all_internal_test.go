package metadata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
)

func TestParseAll(t *testing.T) {
	const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa a@example"
	many := func(n int) string {
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf(`"k%d":%q`, i, k))
		}
		return `{"instance-id":"i-x","public-keys":{` + strings.Join(ids, ",") + `}}`
	}
	tests := []struct {
		name    string
		doc     string
		id      string
		keys    []string // "id=body"
		wantErr string
	}{
		{name: "as cloud-init's tests have it", id: "i-x", keys: []string{"key-pair-1=" + k, "key-pair-2=" + k},
			doc: `{"instance-id":"i-x","hostname":"h","ntp-conf":{"ntp_servers":["a","b"]},"source-address":["x"],` +
				`"public-keys":{"key-pair-1":{"openssh-key":"` + k + `"},"key-pair-2":{"openssh-key":"` + k + `"}}}`},
		{name: "index and key-pair id, as the tree lists them", id: "i-x", keys: []string{"0=" + k, "skp-1=" + k},
			doc: `{"public-keys":{"0":{"openssh-key":"` + k + `"},"skp-1":{"openssh-key":"` + k + `"}},"instance-id":"i-x"}`},
		{name: "string leaf", doc: `{"instance-id":"i-x","public-keys":{"skp-1":"` + k + `"}}`, id: "i-x", keys: []string{"skp-1=" + k}},
		{name: "list leaf", doc: `{"instance-id":"i-x","public-keys":{"skp-1":["` + k + `","b"]}}`, id: "i-x", keys: []string{"skp-1=" + k, "skp-1=b"}},
		{name: "list of openssh-key", doc: `{"instance-id":"i-x","public-keys":{"skp-1":{"openssh-key":["` + k + `"]}}}`, id: "i-x", keys: []string{"skp-1=" + k}},
		{name: "crlf ends dropped", doc: `{"instance-id":" i-x\r\n","public-keys":{"skp-1":"` + k + `\r\n"}}`, id: "i-x", keys: []string{"skp-1=" + k}},
		{name: "inner line break kept for ParseKey to refuse", doc: `{"instance-id":"i-x","public-keys":{"skp-1":"a\r\nb\n"}}`, id: "i-x", keys: []string{"skp-1=a\r\nb"}},
		{name: "other members of the key skipped", doc: `{"instance-id":"i-x","public-keys":{"skp-1":{"x":[1,{"y":null}],"openssh-key":"a"}}}`, id: "i-x", keys: []string{"skp-1=a"}},
		{name: "no public-keys", doc: `{"instance-id":"i-x","hostname":"h"}`, id: "i-x"},
		{name: "public-keys null", doc: `{"instance-id":"i-x","public-keys":null}`, id: "i-x"},
		{name: "public-keys empty", doc: `{"instance-id":"i-x","public-keys":{}}`, id: "i-x"},
		{name: "100 keys", doc: many(100), id: "i-x", keys: nil},

		{name: "not json", doc: `instance-id: i-x`, wantErr: "malformed JSON"},
		{name: "array", doc: `[{"instance-id":"i-x"}]`, wantErr: "not a JSON object"},
		{name: "truncated", doc: `{"instance-id":"i-x","public-keys":{"skp-1":"a"`, wantErr: "malformed JSON"},
		{name: "trailing data", doc: `{"instance-id":"i-x"} {}`, wantErr: "malformed JSON"},
		{name: "escaped names and values", doc: `{"instance\u002did":"i-\u0078","public-keys":{"skp\u002d1":"a\tb\r\n"}}`, id: "i-x", keys: []string{"skp-1=a\tb"}},
		{name: "a member the agent does not read, twice", doc: `{"a":1,"a":[2],"instance-id":"i-x"}`, id: "i-x"},
		{name: "invalid utf-8", doc: "{\"instance-id\":\"i-x\",\"public-keys\":{\"skp-1\":\"ssh-ed25519 AAAA \xff\"}}", wantErr: "not valid UTF-8"},
		{name: "no instance-id", doc: `{"public-keys":{"skp-1":"a"}}`, wantErr: "no instance-id"},
		{name: "instance-id twice", doc: `{"instance-id":"i-x","instance-id":"i-y"}`, wantErr: `member "instance-id" appears twice`},
		{name: "instance-id a number", doc: `{"instance-id":42}`, wantErr: "instance-id is not a string"},
		{name: "instance-id empty", doc: `{"instance-id":" "}`, wantErr: "empty instance id"},
		{name: "instance-id escape", doc: `{"instance-id":"i-\u001b[2J"}`, wantErr: "printable ascii"},
		{name: "instance-id too long", doc: `{"instance-id":"` + strings.Repeat("i", 257) + `"}`, wantErr: "longer than 256"},
		{name: "key id dot-dot", doc: `{"instance-id":"i-x","public-keys":{"..":"a"}}`, wantErr: `malformed public-keys entry ".."`},
		{name: "key id with slash", doc: `{"instance-id":"i-x","public-keys":{"0/openssh-key":"a"}}`, wantErr: "malformed public-keys entry"},
		{name: "key id with space", doc: `{"instance-id":"i-x","public-keys":{"a b":"a"}}`, wantErr: "malformed public-keys entry"},
		{name: "key id twice", doc: `{"instance-id":"i-x","public-keys":{"a":"a","a":"b"}}`, wantErr: `public-keys entry "a" appears twice`},
		{name: "public-keys a list", doc: `{"instance-id":"i-x","public-keys":["a"]}`, wantErr: "not a JSON object"},
		{name: "key a number", doc: `{"instance-id":"i-x","public-keys":{"a":1}}`, wantErr: "neither a string nor a list"},
		{name: "key list of numbers", doc: `{"instance-id":"i-x","public-keys":{"a":[1]}}`, wantErr: "something other than strings"},
		{name: "key object without openssh-key", doc: `{"instance-id":"i-x","public-keys":{"a":{"b":"c"}}}`, wantErr: `"a" has no openssh-key`},
		{name: "key empty list", doc: `{"instance-id":"i-x","public-keys":{"a":[]}}`, wantErr: `"a" has no openssh-key`},
		{name: "openssh-key nested twice", doc: `{"instance-id":"i-x","public-keys":{"a":{"openssh-key":{"openssh-key":"k"}}}}`, wantErr: "neither a string nor a list"},
		{name: "101 key ids", doc: many(101), wantErr: "more than 100 entries"},
		{name: "101 keys in lists", doc: `{"instance-id":"i-x","public-keys":{"a":[` + strings.Repeat(`"k",`, 100) + `"k"]}}`, wantErr: "more than 100 keys"},
		{name: "key over 64 KiB", doc: `{"instance-id":"i-x","public-keys":{"a":"` + strings.Repeat("A", 64<<10+1) + `"}}`, wantErr: "exceeds the limit of 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parseAll([]byte(tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAll = %+v, %v; want an error containing %q", doc, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAll: %v", err)
			}
			if doc.instanceID != tt.id {
				t.Errorf("instance id = %q, want %q", doc.instanceID, tt.id)
			}
			var got []string
			for _, k := range doc.keys {
				got = append(got, k.id+"="+string(k.body))
			}
			if tt.keys == nil && tt.name == "100 keys" {
				if len(got) != 100 {
					t.Errorf("%d keys, want 100", len(got))
				}
				return
			}
			if strings.Join(got, "|") != strings.Join(tt.keys, "|") {
				t.Errorf("keys = %q, want %q", got, tt.keys)
			}
		})
	}
}

// FuzzParseAll checks the all document's parser on any body: it never
// panics; on success the instance id is printable ASCII of at most
// maxInstanceID bytes, there are at most maxListEntries keys, every key id
// would be a safe listing entry, and every body is within maxBody with no
// trailing line end; a document it accepts, written back as JSON in the
// canonical form, parses to the same.
func FuzzParseAll(f *testing.F) {
	const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa a"
	for _, s := range []string{
		`{"instance-id":"i-x","public-keys":{"0":{"openssh-key":"` + k + `"},"skp-1":{"openssh-key":"` + k + `"}}}`,
		`{"instance-id":"i-x","public-keys":{"skp-1":["` + k + `\r\n","b"]}}`,
		`{"instance-id":"i-x","dns-conf":{"nameservers":"a\r\nb"},"public-keys":null}`,
		`{"instance-id":"i-x","public-keys":{"..":"a"}}`, `{"instance-id":"i-x"} x`, `[]`, `{`, `{"a":1,"a":2}`,
		`{"instance-id":"\u0000"}`, `{"instance-id":"i","public-keys":{"a":{"openssh-key":[1]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := parseAll(body)
		if err != nil {
			if doc.instanceID != "" || doc.keys != nil {
				t.Fatalf("parseAll(%q) = %+v with error %v", body, doc, err)
			}
			return
		}
		if doc.instanceID == "" || len(doc.instanceID) > maxInstanceID || !printable(doc.instanceID) {
			t.Fatalf("parseAll(%q): instance id %q", body, doc.instanceID)
		}
		if len(doc.keys) > maxListEntries {
			t.Fatalf("parseAll(%q): %d keys", body, len(doc.keys))
		}
		// The walker against encoding/json: the same instance id, and the
		// same key ids in the same order.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("parseAll(%q) accepted what encoding/json refuses: %v", body, err)
		}
		var id string
		if err := json.Unmarshal(top["instance-id"], &id); err != nil || strings.TrimSpace(id) != doc.instanceID {
			t.Fatalf("parseAll(%q): instance id %q, encoding/json reads %q (%v)", body, doc.instanceID, id, err)
		}
		var ids []string
		if pk := top["public-keys"]; pk != nil && string(pk) != "null" {
			dec := json.NewDecoder(bytes.NewReader(pk))
			dec.Token()
			for dec.More() {
				tok, _ := dec.Token()
				ids = append(ids, tok.(string))
				var skip json.RawMessage
				dec.Decode(&skip)
			}
		}
		var got []string
		for _, k := range doc.keys {
			if len(got) == 0 || got[len(got)-1] != k.id {
				got = append(got, k.id)
			}
		}
		if strings.Join(got, "\x00") != strings.Join(ids, "\x00") {
			t.Fatalf("parseAll(%q): key ids %q, encoding/json reads %q", body, got, ids)
		}
		canon := map[string][]string{}
		var order []string
		for _, k := range doc.keys {
			u := publicKeysPath + k.id + "/openssh-key"
			if k.id == "" || len(k.id) > 128 || strings.Trim(k.id, ".") == "" || path.Clean(u) != u || strings.ContainsAny(k.id, "/%?#") {
				t.Fatalf("parseAll(%q): unsafe key id %q", body, k.id)
			}
			if len(k.body) > maxBody || strings.HasSuffix(string(k.body), "\n") || strings.HasSuffix(string(k.body), "\r") {
				t.Fatalf("parseAll(%q): key %s body %q", body, k.id, k.body)
			}
			if _, ok := canon[k.id]; !ok {
				order = append(order, k.id)
			}
			canon[k.id] = append(canon[k.id], string(k.body))
		}
		var members []string
		for _, id := range order {
			b, _ := json.Marshal(map[string][]string{"openssh-key": canon[id]})
			q, _ := json.Marshal(id)
			members = append(members, string(q)+":"+string(b))
		}
		q, _ := json.Marshal(doc.instanceID)
		again, err := parseAll([]byte(`{"instance-id":` + string(q) + `,"public-keys":{` + strings.Join(members, ",") + `}}`))
		if err != nil || again.instanceID != doc.instanceID || len(again.keys) != len(doc.keys) {
			t.Fatalf("parseAll(%q) = %+v; written back it parses to %+v, %v", body, doc, again, err)
		}
		for i := range again.keys {
			if again.keys[i].id != doc.keys[i].id || string(again.keys[i].body) != string(doc.keys[i].body) {
				t.Fatalf("parseAll(%q) = %+v; written back it parses to %+v", body, doc, again)
			}
		}
	})
}

// BenchmarkParseAll reads a document the size of the emulator's (and of a
// small instance's) with one key listed twice, as every idle poll does.
func BenchmarkParseAll(b *testing.B) {
	const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa emulator-generated\n"
	doc := []byte(`{"dns-conf":{"nameservers":"100.100.2.136\r\n100.100.2.138"},"hostname":"iZi-emulator0001Z",` +
		`"image-id":"m-emulator0001","instance-id":"i-emulator0001","network-type":"vpc",` +
		`"ntp-conf":{"ntp-servers":["ntp1.aliyun.com","ntp2.aliyun.com"]},` +
		`"public-keys":{"0":{"openssh-key":` + fmt.Sprintf("%q", k) + `},"skp-1":{"openssh-key":` + fmt.Sprintf("%q", k) + `}},` +
		`"region-id":"cn-hangzhou","zone-id":"cn-hangzhou-i"}`)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if d, err := parseAll(doc); err != nil || len(d.keys) != 2 {
			b.Fatal(d, err)
		}
	}
}
