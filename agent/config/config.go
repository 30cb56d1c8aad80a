// Package config is the one place the agent's configuration is defined:
// its keys, their defaults (Default) and their validation, read from TOML.
//
// Every key is optional, so an ECS instance needs no file at all. Unknown
// keys and values of the wrong type are errors naming the key and its line:
// a typo in a root agent's configuration must not be silently ignored.
// Values with a meaning of their own are typed and decode themselves (the
// metadata endpoint and token mode, the sshd modes), so the configuration
// file and the command line check them with the same code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/ecs-keyagent/ecs-keyagent/agent/metadata"
	"github.com/ecs-keyagent/ecs-keyagent/agent/sshd"
	"github.com/ecs-keyagent/ecs-keyagent/keys"
)

// DefaultPath is where the packages install the configuration file.
const DefaultPath = "/etc/ecs-keyagent/config.toml"

// maxFileSize bounds the configuration file we are willing to read.
const maxFileSize = 1 << 20

// Config is the agent's configuration after defaults are applied. The want
// tag says, in an error message, what a key takes when its value has the
// wrong TOML type.
type Config struct {
	Endpoint       metadata.Endpoint  `toml:"endpoint" want:"a URL string such as \"http://100.100.100.200\""`
	Token          metadata.TokenMode `toml:"token" want:"\"auto\", \"required\" or \"off\""`
	TokenTTL       Duration           `toml:"token_ttl" want:"a duration string such as \"6h\""`
	RequestTimeout Duration           `toml:"request_timeout" want:"a duration string such as \"2s\""`
	Users          []string           `toml:"users" want:"a list of names such as [\"root\"]"` // empty: ECS's login user, see Users
	AdoptBoundKeys bool               `toml:"adopt_bound_keys" want:"true or false"`
	MinRSABits     int                `toml:"min_rsa_bits" want:"a whole number such as 2048"`
	PollInterval   Duration           `toml:"poll_interval" want:"a duration string such as \"30s\""`
	BootTimeout    Duration           `toml:"boot_timeout" want:"a duration string such as \"60s\""`
	// MetricsTextfile is where each sync writes its metrics for the node
	// exporter's textfile collector; "" writes none.
	MetricsTextfile Textfile `toml:"metrics_textfile" want:"a path string such as \"/var/lib/prometheus/node-exporter/ecs_keyagent.prom\""`
	SSHD            SSHD     `toml:"sshd" want:"a table: a line [sshd], then its keys"`
}

// SSHD is the [sshd] table: how the agent treats password login.
type SSHD struct {
	PasswordAuthentication sshd.Mode `toml:"password_authentication" want:"\"platform\", \"disable\" or \"keep\""`
	KeyboardInteractive    sshd.Mode `toml:"keyboard_interactive" want:"\"platform\", \"disable\" or \"keep\""`
	Config                 string    `toml:"config" want:"a path string such as \"/etc/ssh/sshd_config\""`
}

// Duration is a time.Duration written as a string such as "2s" or "30s".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("want a duration such as \"2s\" or \"5m\": %w", err)
	}
	if v <= 0 {
		return fmt.Errorf("duration %q must be positive", text)
	}
	d.Duration = v
	return nil
}

// MarshalText renders the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Textfile is the path of a Prometheus textfile: absolute and clean, its
// name ending in ".prom", the files the node exporter's textfile collector
// reads. "" is none.
type Textfile string

// UnmarshalText accepts "" or an absolute path ending in ".prom".
func (t *Textfile) UnmarshalText(text []byte) error {
	p := string(text)
	base := path.Base(p)
	if p != "" && (!path.IsAbs(p) || path.Clean(p) != p || !strings.HasSuffix(base, ".prom") || base == ".prom") {
		return fmt.Errorf("want an absolute path ending in .prom, such as \"/var/lib/prometheus/node-exporter/ecs_keyagent.prom\", got %q", p)
	}
	*t = Textfile(p)
	return nil
}

// MarshalText returns the path.
func (t Textfile) MarshalText() ([]byte, error) { return []byte(t), nil }

// Default returns the configuration used when no file sets a key.
func Default() Config {
	return Config{
		Endpoint:       metadata.DefaultEndpoint,
		Token:          metadata.DefaultTokenMode,
		TokenTTL:       Duration{metadata.DefaultTokenTTL},
		RequestTimeout: Duration{metadata.DefaultRequestTimeout},
		AdoptBoundKeys: true,
		MinRSABits:     keys.DefaultMinRSABits,
		PollInterval:   Duration{30 * time.Second},
		BootTimeout:    Duration{60 * time.Second},
		SSHD: SSHD{
			PasswordAuthentication: sshd.Platform,
			KeyboardInteractive:    sshd.Platform,
			Config:                 sshd.DefaultConfig,
		},
	}
}

// Load reads the file at path over the defaults, applies override (the
// command line's flags; nil for none), then validates the result. A
// missing file is an error only when mustExist is set (the user named
// it); the default path may be absent.
func Load(path string, mustExist bool, override func(*Config)) (Config, error) {
	cfg := Default()
	data, err := readBounded(path)
	if err != nil && (!errors.Is(err, fs.ErrNotExist) || mustExist) {
		return cfg, fmt.Errorf("read config %s: %w", path, err)
	}
	md, err := decode(data, &cfg)
	if err == nil {
		if override != nil {
			override(&cfg)
		}
		err = cfg.validate(data, md)
	}
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFileSize+1)); err != nil {
		return nil, err
	}
	if buf.Len() > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", maxFileSize)
	}
	return buf.Bytes(), nil
}

// Parse decodes TOML data over cfg and validates the result.
func Parse(data []byte, cfg *Config) error {
	md, err := decode(data, cfg)
	if err != nil {
		return err
	}
	return cfg.validate(data, md)
}

// decode reads TOML data over cfg; typed values check themselves here.
// Unknown keys and values of the wrong TOML type are found first, in the
// order of the file, on a generic decoding: the library's own messages for
// them name Go types, not what the key wants.
func decode(data []byte, cfg *Config) (toml.MetaData, error) {
	if err := checkKeys(data); err != nil {
		return toml.MetaData{}, err
	}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			if perr.LastKey != "" && !strings.Contains(perr.Message, perr.LastKey) {
				return md, fmt.Errorf("line %d: %s: %s", perr.Position.Line, perr.LastKey, perr.Message)
			}
			return md, fmt.Errorf("line %d: %s", perr.Position.Line, perr.Message)
		}
		return md, err
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		key := undecoded[0]
		return md, fmt.Errorf("line %d: unknown key %q", keyLine(data, key), key.String())
	}
	return md, nil
}

func (c *Config) validate(data []byte, md toml.MetaData) error {
	fail := func(key, format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if k := toml.Key(strings.Split(key, ".")); md.IsDefined(k...) {
			return fmt.Errorf("line %d: %s: %s", keyLine(data, k), key, msg)
		}
		return fmt.Errorf("%s: %s", key, msg)
	}
	if err := metadata.CheckTokenTTL(c.TokenTTL.Duration); err != nil {
		return fail("token_ttl", "%v", err)
	}
	if len(c.Users) == 0 && c.Users != nil {
		return fail("users", "must name at least one user, or be left out for ECS's login user")
	}
	for _, u := range c.Users {
		if !ValidUserName(u) {
			return fail("users", "%q is not a valid user name", u)
		}
	}
	if c.MinRSABits < 1024 || c.MinRSABits > 16384 {
		return fail("min_rsa_bits", "must be between 1024 and 16384, got %d", c.MinRSABits)
	}
	if !strings.HasPrefix(c.SSHD.Config, "/") {
		return fail("sshd.config", "want an absolute path, got %q", c.SSHD.Config)
	}
	return nil
}

// ValidUserName reports whether name is a plausible POSIX user name: it is
// joined into paths and passed to sshd -C, so nothing exotic gets through.
func ValidUserName(name string) bool {
	if name == "" || len(name) > 32 || name[0] == '-' || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// keyLine finds the line that defines key, for error messages: the TOML
// library reports positions of syntax errors but not of decoded keys. It
// understands the subset our configuration uses (bare keys, [tables]: a
// table's line is its header's) and answers 0 when it cannot tell.
func keyLine(data []byte, key toml.Key) int {
	table, name := "", key[len(key)-1]
	want := strings.Join(key[:len(key)-1], ".")
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			table = strings.TrimSpace(strings.Trim(line, "[]"))
			if table == strings.Join(key, ".") {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if k == name && table == want || k == strings.Join(key, ".") && table == "" {
			return i + 1
		}
	}
	return 0
}
