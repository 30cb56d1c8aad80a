package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		check   func(Config) bool
		wantErr string // substring; "" means success
	}{
		{name: "empty file keeps defaults", input: "", check: func(c Config) bool {
			return c.Endpoint == "http://100.100.100.200" && c.Token == "auto" &&
				c.RequestTimeout.Duration == 2*time.Second && len(c.Users) == 0 && c.AdoptBoundKeys &&
				c.MinRSABits == 2048 && c.SSHD.PasswordAuthentication == "platform" && c.SSHD.KeyboardInteractive == "platform"
		}},
		{name: "every key", input: `
endpoint = "http://127.0.0.1:8080"
token = "required"
token_ttl = "1h"
request_timeout = "500ms"
users = ["root", "ecs-user"]
min_rsa_bits = 3072
poll_interval = "10s"
boot_timeout = "20s"

[sshd]
password_authentication = "keep"
keyboard_interactive = "keep"
config = "/etc/ssh/custom_config"
`, check: func(c Config) bool {
			return c.Endpoint == "http://127.0.0.1:8080" && c.Token == "required" &&
				c.TokenTTL.Duration == time.Hour && c.RequestTimeout.Duration == 500*time.Millisecond &&
				strings.Join(c.Users, ",") == "root,ecs-user" && c.MinRSABits == 3072 &&
				c.PollInterval.Duration == 10*time.Second && c.BootTimeout.Duration == 20*time.Second &&
				c.SSHD.PasswordAuthentication == "keep" && c.SSHD.KeyboardInteractive == "keep" &&
				c.SSHD.Config == "/etc/ssh/custom_config"
		}},
		{name: "unknown key names key and line", input: "token = \"auto\"\nendpiont = \"x\"\n", wantErr: `line 2: unknown key "endpiont"`},
		{name: "unknown key in table", input: "[sshd]\n\npasword = \"no\"\n", wantErr: `line 3: unknown key "sshd.pasword"`},
		{name: "wrong type", input: "\nusers = \"root\"\n", wantErr: `line 2: users: want a list of names such as ["root"], got a string`},
		{name: "list of the wrong type", input: "users = [0]\n", wantErr: `line 1: users: want a list of names such as ["root"], got a list holding a whole number`},
		{name: "string for a number", input: "min_rsa_bits = \"2048\"\n", wantErr: "line 1: min_rsa_bits: want a whole number such as 2048, got a string"},
		{name: "string for a boolean", input: "adopt_bound_keys = \"no\"\n", wantErr: "line 1: adopt_bound_keys: want true or false, got a string"},
		{name: "number for a path", input: "[sshd]\nconfig = 1\n", wantErr: `line 2: sshd.config: want a path string such as "/etc/ssh/sshd_config", got a whole number`},
		{name: "value for a table", input: "sshd = \"keep\"\n", wantErr: "line 1: sshd: want a table: a line [sshd], then its keys, got a string"},
		{name: "did you mean", input: "token = \"auto\"\nuser = [\"root\"]\n", wantErr: `line 2: unknown key "user"; did you mean "users"?`},
		{name: "did you mean, swapped letters", input: "endpiont = \"x\"\n", wantErr: `line 1: unknown key "endpiont"; did you mean "endpoint"?`},
		{name: "did you mean, start of a key", input: "[sshd]\npassword = \"keep\"\n", wantErr: `line 2: unknown key "sshd.password"; did you mean "sshd.password_authentication"?`},
		{name: "did you mean, wrong table", input: "password_authentication = \"keep\"\n", wantErr: `line 1: unknown key "password_authentication"; did you mean "sshd.password_authentication" (under [sshd])?`},
		{name: "did you mean, top-level key in a table", input: "[sshd]\nusers = [\"root\"]\n", wantErr: `line 2: unknown key "sshd.users"; did you mean "users" (at the top, before any [table] line)?`},
		{name: "did you mean, table", input: "[ssh]\nconfig = \"/x\"\n", wantErr: `line 1: unknown key "ssh"; did you mean "sshd"?`},
		{name: "nothing close", input: "colour = \"blue\"\n", wantErr: `line 1: unknown key "colour"`},
		{name: "first problem in file order", input: "min_rsa_bits = \"x\"\nuser = 1\n", wantErr: "line 1: min_rsa_bits"},
		{name: "bad duration", input: "\n\nrequest_timeout = \"2 seconds\"\n", wantErr: "line 3: request_timeout: "},
		{name: "fractional token ttl", input: "token_ttl = \"1500ms\"\n", wantErr: "line 1: token_ttl: want a whole number of seconds"},
		{name: "integer duration", input: "request_timeout = 2\n", wantErr: "line 1"},
		{name: "bad token mode", input: "token = \"maybe\"\n", wantErr: `line 1: token: want "auto", "required" or "off", got "maybe"`},
		{name: "bad user", input: "users = [\"../etc\"]\n", wantErr: `users: "../etc" is not a valid user name`},
		{name: "no users", input: "users = []\n", wantErr: "users: must name at least one user"},
		{name: "ttl too long", input: "token_ttl = \"7h\"\n", wantErr: "token_ttl"},
		{name: "bad sshd mode", input: "[sshd]\npassword_authentication = \"enable\"\n", wantErr: `line 2: sshd.password_authentication`},
		{name: "disable mode", input: "adopt_bound_keys = false\n[sshd]\npassword_authentication = \"disable\"\n", check: func(c Config) bool {
			return c.SSHD.PasswordAuthentication == "disable" && c.SSHD.KeyboardInteractive == "platform" && !c.AdoptBoundKeys
		}},
		{name: "relative sshd config", input: "[sshd]\nconfig = \"sshd_config\"\n", wantErr: "sshd.config"},
		{name: "endpoint without scheme", input: "endpoint = \"100.100.100.200\"\n", wantErr: "line 1: endpoint: want a URL such as http://100.100.100.200"},
		{name: "endpoint with a path", input: "endpoint = \"http://100.100.100.200/latest\"\n", wantErr: "line 1: endpoint: "},
		{name: "endpoint port out of range", input: "endpoint = \"http://127.0.0.1:99999\"\n", wantErr: "line 1: endpoint: "},
		{name: "syntax error", input: "endpoint = \n", wantErr: "line 1"},
		{name: "metrics textfile", input: "metrics_textfile = \"/var/lib/prometheus/node-exporter/ecs_keyagent.prom\"\n", check: func(c Config) bool {
			return c.MetricsTextfile == "/var/lib/prometheus/node-exporter/ecs_keyagent.prom"
		}},
		{name: "metrics textfile off", input: "metrics_textfile = \"\"\n", check: func(c Config) bool { return c.MetricsTextfile == "" }},
		{name: "metrics textfile not .prom", input: "metrics_textfile = \"/var/lib/prometheus/node-exporter/ecs_keyagent.txt\"\n",
			wantErr: `line 1: metrics_textfile: want an absolute path ending in .prom, such as "/var/lib/prometheus/node-exporter/ecs_keyagent.prom", got "/var/lib/prometheus/node-exporter/ecs_keyagent.txt"`},
		{name: "metrics textfile relative", input: "metrics_textfile = \"ecs_keyagent.prom\"\n", wantErr: "line 1: metrics_textfile: want an absolute path"},
		{name: "metrics textfile with ..", input: "metrics_textfile = \"/var/lib/../x.prom\"\n", wantErr: "line 1: metrics_textfile: want an absolute path"},
		{name: "metrics textfile no name", input: "metrics_textfile = \"/var/lib/.prom\"\n", wantErr: "line 1: metrics_textfile: want an absolute path"},
		{name: "metrics textfile number", input: "metrics_textfile = 1\n", wantErr: `line 1: metrics_textfile: want a path string such as "/var/lib/prometheus/node-exporter/ecs_keyagent.prom", got a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			err := Parse([]byte(tt.input), &cfg)
			if tt.name == "nothing close" && err != nil && strings.Contains(err.Error(), "did you mean") {
				t.Fatalf("Parse(%q) error = %v, want no suggestion", tt.input, err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want it to contain %q", tt.input, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.input, err)
			}
			if !tt.check(cfg) {
				t.Errorf("Parse(%q) = %+v, not what the input says", tt.input, cfg)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	if _, err := Load(missing, false, nil); err != nil {
		t.Errorf("Load(missing default) = %v, want defaults", err)
	}
	if _, err := Load(missing, true, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing named) = %v, want an error naming %s", err, missing)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("colour = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, false, nil); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "colour") {
		t.Errorf("Load(unknown key) = %v, want an error naming the file and key", err)
	}
	// Overrides (the command line's) apply before validation: a bad user
	// given on the command line is refused like one in the file.
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("users = [\"root\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(good, true, func(c *Config) { c.Users = []string{"alice"} })
	if err != nil || len(cfg.Users) != 1 || cfg.Users[0] != "alice" {
		t.Errorf("Load(override users) = %v, %v, want [alice]", cfg.Users, err)
	}
	if _, err := Load(good, true, func(c *Config) { c.Users = []string{"../x"} }); err == nil || !strings.Contains(err.Error(), "users") {
		t.Errorf("Load(override bad user) = %v, want a users error", err)
	}
}

// TestKnownKeys checks that every key of Config is known to the checks
// that run before decoding, with what it wants in words.
func TestKnownKeys(t *testing.T) {
	var names []string
	for _, k := range knownKeys() {
		names = append(names, k.name)
	}
	want := "endpoint token token_ttl request_timeout users adopt_bound_keys min_rsa_bits poll_interval boot_timeout metrics_textfile " +
		"sshd sshd.password_authentication sshd.keyboard_interactive sshd.config"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("knownKeys() = %s, want %s", got, want)
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"users", "users", 0}, {"user", "users", 1}, {"endpiont", "endpoint", 1},
		{"", "abc", 3}, {"kitten", "sitting", 3},
	} {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
