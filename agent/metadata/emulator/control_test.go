package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata/emulator"
)

func TestControlAPI(t *testing.T) {
	h := newHarness(t)

	h.want("PUT", "/emulator/keys", `[{"id":"skp-1","body":"`+keyA+`"}]`, 204, "")
	h.want("GET", keysPath, "", 200, "0/\nskp-1/\n")
	h.want("GET", keysPath+"skp-1/openssh-key", "", 200, keyA)
	h.want("PUT", "/emulator/keys", `[]`, 204, "")
	h.want("GET", keysPath, "", 404, "*")

	h.want("PUT", "/emulator/instance-id", `"i-ctl"`, 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, "i-ctl")

	h.want("PUT", "/emulator/token-policy", `"enforced"`, 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 403, "*")
	h.want("PUT", "/emulator/token-policy", `"optional"`, 204, "")

	h.want("PUT", "/emulator/fault?path=/latest/meta-data/instance-id", `{"status":503,"times":1}`, 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 503, "*")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, "i-ctl")

	h.want("PUT", "/emulator/fault?path=/latest/meta-data/instance-id", `{"body":"i-forged"}`, 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, "i-forged")
	h.want("DELETE", "/emulator/fault?path=/latest/meta-data/instance-id", "", 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, "i-ctl")

	h.want("PUT", "/emulator/fault?path=/latest/meta-data/instance-id", `{"status":500}`, 204, "")
	h.want("DELETE", "/emulator/faults", "", 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 200, "i-ctl")

	status, tok := h.do("PUT", "/latest/api/token", "", ttlHeader, "60")
	if status != 200 {
		t.Fatalf("PUT token: %d", status)
	}
	h.want("POST", "/emulator/expire-tokens", "", 204, "")
	h.want("GET", "/latest/meta-data/instance-id", "", 401, "*", tokenHeader, tok)

	status, body := h.do("GET", "/emulator/requests", "")
	var reqs []emulator.Request
	if err := json.Unmarshal([]byte(body), &reqs); status != 200 || err != nil {
		t.Fatalf("GET /emulator/requests = %d %q (%v)", status, body, err)
	}
	if len(reqs) != len(h.emu.Requests()) || len(reqs) == 0 {
		t.Errorf("GET /emulator/requests has %d entries, Requests() %d", len(reqs), len(h.emu.Requests()))
	}
	last := reqs[len(reqs)-1]
	if last.Method != "GET" || last.Path != "/latest/meta-data/instance-id" || !last.Token {
		t.Errorf("last request = %+v, want the GET with a token", last)
	}
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/emulator/") {
			t.Errorf("control request %s logged", r.Path)
		}
	}
}

func TestControlAPIRejects(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"keys not json", "PUT", "/emulator/keys", `ssh-ed25519 AAAA`, 400},
		{"keys unknown field", "PUT", "/emulator/keys", `[{"key":"x"}]`, 400},
		{"keys trailing value", "PUT", "/emulator/keys", `[] []`, 400},
		{"instance id not a string", "PUT", "/emulator/instance-id", `42`, 400},
		{"unknown policy", "PUT", "/emulator/token-policy", `"strict"`, 400},
		{"fault without path", "PUT", "/emulator/fault", `{"status":500}`, 400},
		{"fault bad duration", "PUT", "/emulator/fault?path=/x", `{"delay":"soon"}`, 400},
		{"unknown route", "GET", "/emulator/nothing", ``, 404},
		{"wrong method", "GET", "/emulator/keys", ``, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.do(tt.method, tt.path, tt.body)
			if status != tt.status || body == "" {
				t.Errorf("%s %s %s = %d %q, want %d and a reason", tt.method, tt.path, tt.body, status, body, tt.status)
			}
		})
	}
}
