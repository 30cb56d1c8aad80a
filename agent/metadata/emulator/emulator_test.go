package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa a@example"

// harness is an emulator on loopback and a client with its own transport.
type harness struct {
	t   *testing.T
	emu *emulator.Server
	url string
	hc  *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	emu := emulator.New()
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	hc := &http.Client{
		Transport:     &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(hc.CloseIdleConnections)
	return &harness{t: t, emu: emu, url: srv.URL, hc: hc}
}

// do sends a request and returns the status and body.
func (h *harness) do(method, path string, body string, header ...string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

func (h *harness) want(method, path, body string, wantStatus int, wantBody string, header ...string) {
	h.t.Helper()
	status, got := h.do(method, path, body, header...)
	if status != wantStatus || (wantBody != "*" && got != wantBody) {
		h.t.Errorf("%s %s = %d %q, want %d %q", method, path, status, got, wantStatus, wantBody)
	}
}

const (
	ttlHeader   = "X-aliyun-ecs-metadata-token-ttl-seconds"
	tokenHeader = "X-aliyun-ecs-metadata-token"
	keysPath    = "/latest/meta-data/public-keys/"
)

func TestLayout(t *testing.T) {
	h := newHarness(t)
	h.want("GET", "/latest/meta-data/instance-id", "", 200, emulator.DefaultInstanceID)
	h.want("GET", keysPath, "", 404, "*")

	h.emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\n")
	h.want("GET", keysPath+"0/openssh-key", "", 200, keyA)
	h.want("GET", keysPath+"skp-x/openssh-key", "", 200, keyA)
	h.want("GET", keysPath+"skp-x/", "", 200, "openssh-key\n")
	h.want("GET", keysPath+"1/openssh-key", "", 404, "*")
	h.want("GET", "/latest/meta-data/nothing", "", 404, "*")
	h.want("PUT", "/latest/meta-data/instance-id", "", 405, "*")

	h.emu.SetKeys(emulator.Key{ID: "skp-a", Body: "a"}, emulator.Key{ID: "skp-b", Body: "b"}, emulator.Key{Body: "c"})
	h.want("GET", keysPath, "", 200, "0/\n1/\n2/\nskp-a/\nskp-b/\n")
	h.want("GET", keysPath+"2/openssh-key", "", 200, "c")

	h.emu.SetKeys()
	h.want("GET", keysPath, "", 404, "*")
	h.emu.SetInstanceID("i-other")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, "i-other")
}

func TestTokens(t *testing.T) {
	h := newHarness(t)
	h.emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})
	const id = "/latest/meta-data/instance-id"

	for _, ttl := range []string{"", "0", "21601", "-1", "1.5", "x"} {
		h.want("PUT", "/latest/api/token", "", 400, "*", ttlHeader, ttl)
	}
	h.want("PUT", "/latest/api/token", "", 403, "*", ttlHeader, "60", "X-Forwarded-For", "192.0.2.9")
	h.want("GET", "/latest/api/token", "", 405, "*")

	status, tok := h.do("PUT", "/latest/api/token", "", ttlHeader, "21600")
	if status != 200 || tok == "" {
		t.Fatalf("PUT token = %d %q, want 200 and a token", status, tok)
	}
	// optional: tokenless allowed, a sent token is checked
	h.want("GET", id, "", 200, emulator.DefaultInstanceID)
	h.want("GET", id, "", 200, emulator.DefaultInstanceID, tokenHeader, tok)
	h.want("GET", id, "", 401, "*", tokenHeader, "forged")

	h.emu.SetTokenPolicy(emulator.TokenEnforced)
	h.want("GET", id, "", 403, "*")
	h.want("GET", id, "", 200, emulator.DefaultInstanceID, tokenHeader, tok)
	h.emu.ExpireTokens()
	h.want("GET", id, "", 401, "*", tokenHeader, tok)

	h.emu.SetTokenPolicy(emulator.TokenNone)
	h.want("PUT", "/latest/api/token", "", 404, "*", ttlHeader, "60")
	h.want("GET", id, "", 200, emulator.DefaultInstanceID, tokenHeader, "ignored")

	h.emu.SetTokenPolicy(emulator.TokenDisabled)
	h.want("PUT", "/latest/api/token", "", 403, "*", ttlHeader, "60")
	h.want("GET", id, "", 403, "*")

	var puts, withToken int
	for _, r := range h.emu.Requests() {
		if r.Method == "PUT" && r.Path == "/latest/api/token" {
			puts++
		}
		if r.Token {
			withToken++
		}
	}
	if puts != 10 || withToken != 5 {
		t.Errorf("Requests: %d token PUTs, %d with token; want 10, 5", puts, withToken)
	}
}

func TestTokenExpiresAfterTTL(t *testing.T) {
	h := newHarness(t)
	h.emu.SetTokenPolicy(emulator.TokenEnforced)
	_, tok := h.do("PUT", "/latest/api/token", "", ttlHeader, "1")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, emulator.DefaultInstanceID, tokenHeader, tok)
	time.Sleep(1100 * time.Millisecond)
	h.want("GET", "/latest/meta-data/instance-id", "", 401, "*", tokenHeader, tok)
}

func TestFaults(t *testing.T) {
	h := newHarness(t)
	h.emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA})

	h.emu.SetFault(keysPath, emulator.Fault{Status: 500, Times: 2})
	h.want("GET", keysPath, "", 500, "Internal Server Error\n")
	h.want("GET", keysPath, "", 500, "*")
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\n")

	h.emu.SetFault(keysPath, emulator.Fault{Body: []byte("../\n")})
	h.want("GET", keysPath, "", 200, "../\n")
	h.want("GET", keysPath, "", 200, "../\n")
	h.emu.SetFault(keysPath, emulator.Fault{})
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\n")

	h.emu.SetFault(keysPath, emulator.Fault{BodySize: 12})
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\nAA")

	h.emu.SetFault(keysPath, emulator.Fault{RedirectTo: "http://192.0.2.1/x"})
	status, _ := h.do("GET", keysPath, "")
	if status != 302 {
		t.Errorf("redirect fault: status %d, want 302", status)
	}

	h.emu.SetFault(keysPath, emulator.Fault{Drip: time.Millisecond})
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\n")

	h.emu.SetFault(keysPath, emulator.Fault{Delay: 10 * time.Millisecond, Times: 1})
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\n")

	h.emu.SetFault(keysPath, emulator.Fault{Drop: true})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", h.url+keysPath, nil)
	if resp, err := h.hc.Do(req); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("drop fault: body read without error")
		}
	}

	h.emu.SetFault("", emulator.Fault{Status: 500})
	h.want("GET", keysPath, "", 200, "0/\nskp-x/\n")
	h.emu.SetFault("/latest/api/token", emulator.Fault{Status: 405})
	h.emu.ClearFaults()
	h.want("PUT", "/latest/api/token", "", 200, "*", ttlHeader, "60")
}

func TestRequestLogBounded(t *testing.T) {
	emu := emulator.New()
	for range 1005 {
		emu.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/latest/meta-data/instance-id", nil))
	}
	emu.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/last", nil))
	emu.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/emulator/requests", nil))
	got := emu.Requests()
	if len(got) != 1000 || got[len(got)-1].Path != "/last" {
		t.Errorf("Requests() has %d entries ending %+v; want 1000 ending /last", len(got), got[len(got)-1])
	}
}

func TestFaultJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    emulator.Fault
		wantErr string
	}{
		{name: "status times", json: `{"status":500,"times":1}`, want: emulator.Fault{Status: 500, Times: 1}},
		{name: "durations", json: `{"delay":"3s","drip":"150ms"}`, want: emulator.Fault{Delay: 3 * time.Second, Drip: 150 * time.Millisecond}},
		{name: "empty body", json: `{"body":""}`, want: emulator.Fault{Body: []byte{}}},
		{name: "all", json: `{"body":"x","body_size":9,"drop":true,"redirect_to":"http://a/"}`,
			want: emulator.Fault{Body: []byte("x"), BodySize: 9, Drop: true, RedirectTo: "http://a/"}},
		{name: "unknown field", json: `{"stat":500}`, wantErr: "unknown field"},
		{name: "bad duration", json: `{"delay":"3"}`, wantErr: "delay"},
		{name: "bad status", json: `{"status":42}`, wantErr: "status 42"},
		{name: "negative", json: `{"times":-1}`, wantErr: "negative"},
		{name: "huge body", json: `{"body_size":1000000000}`, wantErr: "body_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f emulator.Fault
			err := json.Unmarshal([]byte(tt.json), &f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Unmarshal(%s) error = %v, want one containing %q", tt.json, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.json, err)
			}
			back, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tt.want)
			if string(back) != string(want) || (f.Body == nil) != (tt.want.Body == nil) {
				t.Errorf("Unmarshal(%s) = %s, want %s", tt.json, back, want)
			}
		})
	}
}

// The all document: off until asked for, then the tree as JSON, under the
// same token rules.
func TestAllDocument(t *testing.T) {
	h := newHarness(t)
	const all = "/latest/meta-data/all"
	h.want("GET", all, "", 404, "*")
	h.want("PUT", "/emulator/all-document", `true`, 204, "")
	read := func() map[string]any {
		t.Helper()
		status, body := h.do("GET", all, "")
		var doc map[string]any
		if err := json.Unmarshal([]byte(body), &doc); status != 200 || err != nil {
			t.Fatalf("GET %s = %d %q (%v)", all, status, body, err)
		}
		return doc
	}
	doc := read()
	if doc["instance-id"] != emulator.DefaultInstanceID {
		t.Errorf("instance-id = %v", doc["instance-id"])
	}
	if _, ok := doc["public-keys"]; ok {
		t.Errorf("with no key bound the document has public-keys: %v", doc["public-keys"])
	}
	h.emu.SetKeys(emulator.Key{ID: "skp-x", Body: keyA}, emulator.Key{Body: "b"})
	keys, _ := read()["public-keys"].(map[string]any)
	want := map[string]string{"0": keyA, "1": "b", "skp-x": keyA}
	if len(keys) != len(want) {
		t.Errorf("public-keys = %v, want %v", keys, want)
	}
	for id, body := range want {
		if k, _ := keys[id].(map[string]any); k["openssh-key"] != body {
			t.Errorf("public-keys[%s] = %v, want openssh-key %q", id, keys[id], body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", h.url+all, nil)
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	h.emu.SetTokenPolicy(emulator.TokenEnforced)
	h.want("GET", all, "", 403, "*")
	h.emu.SetTokenPolicy(emulator.TokenOptional)
	h.want("PUT", "/emulator/all-document", `false`, 204, "")
	h.want("GET", all, "", 404, "*")
	h.want("PUT", "/emulator/all-document", `"yes"`, 400, "*")
}
