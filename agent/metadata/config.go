package metadata

import (
	"fmt"

	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// TokenMode says whether the client uses the security-hardening token.
type TokenMode string

const (
	// TokenAuto uses a token when the service issues one and falls back to
	// tokenless GETs only when the token PUT answers 404 or 405.
	TokenAuto TokenMode = "auto"
	// TokenRequired always uses a token and never falls back.
	TokenRequired TokenMode = "required"
	// TokenOff never asks for a token.
	TokenOff TokenMode = "off"
)

// UnmarshalText accepts "auto", "required" or "off".
func (m *TokenMode) UnmarshalText(text []byte) error {
	switch v := TokenMode(text); v {
	case TokenAuto, TokenRequired, TokenOff:
		*m = v
		return nil
	}
	return fmt.Errorf("want \"auto\", \"required\" or \"off\", got %q", text)
}

// MarshalText returns the mode's name.
func (m TokenMode) MarshalText() ([]byte, error) { return []byte(m), nil }

// Endpoint is the metadata service's base URL, "scheme://host[:port]".
// Its only constructor is ParseEndpoint (or UnmarshalText), so a value in
// hand has been checked.
type Endpoint string

// UnmarshalText parses text with ParseEndpoint.
func (e *Endpoint) UnmarshalText(text []byte) error {
	v, err := ParseEndpoint(string(text))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// MarshalText returns the URL.
func (e Endpoint) MarshalText() ([]byte, error) { return []byte(e), nil }

// String returns the URL.
func (e Endpoint) String() string { return string(e) }

// ParseEndpoint checks s as the metadata service's base URL and returns it as
// "scheme://host[:port]", refusing anything that could make a joined path
// mean something else: userinfo, a path, a query or a fragment.
func ParseEndpoint(s string) (Endpoint, error) {
	const want = "want a URL such as http://100.100.100.200"
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%s, got %q: %w", want, s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s, got %q: the scheme must be http or https", want, s)
	case u.Hostname() == "":
		return "", fmt.Errorf("%s, got %q: no host", want, s)
	case u.User != nil, u.RawQuery != "", u.Fragment != "", u.Opaque != "", u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("%s, got %q: only the scheme, host and port are allowed", want, s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%s, got %q: port %s is not in 1..65535", want, s, p)
		}
	}
	return Endpoint(u.Scheme + "://" + u.Host), nil
}

// Defaults for the zero fields of Config, and the agent's configuration
// defaults.
const (
	DefaultEndpoint       Endpoint = "http://100.100.100.200"
	DefaultTokenMode               = TokenAuto
	DefaultTokenTTL                = 6 * time.Hour
	DefaultRequestTimeout          = 2 * time.Second
)

// The service accepts token TTLs of 1..21600 seconds (Alibaba Cloud,
// "Instance metadata": X-aliyun-ecs-metadata-token-ttl-seconds).
const (
	minTokenTTL = time.Second
	maxTokenTTL = 21600 * time.Second
)

// CheckTokenTTL reports whether d is a TTL the service accepts: a whole
// number of seconds from 1 s to 6 h.
func CheckTokenTTL(d time.Duration) error {
	if d < minTokenTTL || d > maxTokenTTL || d%time.Second != 0 {
		return fmt.Errorf("want a whole number of seconds from %s to %s, got %s", minTokenTTL, maxTokenTTL, d)
	}
	return nil
}

// Config configures a Client. The zero value is ready for use on an instance.
type Config struct {
	Endpoint       string           // base URL, default DefaultEndpoint
	Token          TokenMode        // default DefaultTokenMode
	TokenTTL       time.Duration    // default DefaultTokenTTL; see CheckTokenTTL
	RequestTimeout time.Duration    // per request, body included; default DefaultRequestTimeout
	Now            func() time.Time // clock for token expiry; nil means time.Now
	Logger         *zap.Logger      // each request at debug level; nil logs nothing
	// Fallback is tried when Endpoint cannot be reached at all (no HTTP
	// answer); "" for none. The agent sets DefaultFallback when Endpoint is
	// the default one.
	Fallback string
}

// withDefaults returns cfg with its zero fields filled in.
func (cfg Config) withDefaults() Config {
	if cfg.Endpoint == "" {
		cfg.Endpoint = string(DefaultEndpoint)
	}
	if cfg.Token == "" {
		cfg.Token = DefaultTokenMode
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Validate reports the first field of cfg (after defaults) that New would
// refuse, so a caller can fail at start-up rather than at the first Fetch.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	if _, err := ParseEndpoint(cfg.Endpoint); err != nil {
		return fmt.Errorf("check metadata endpoint: %w", err)
	}
	if _, err := ParseEndpoint(cfg.Fallback); err != nil && cfg.Fallback != "" {
		return fmt.Errorf("check metadata fallback endpoint: %w", err)
	}
	var m TokenMode
	if err := m.UnmarshalText([]byte(cfg.Token)); err != nil {
		return fmt.Errorf("check metadata token mode: %w", err)
	}
	if err := CheckTokenTTL(cfg.TokenTTL); err != nil {
		return fmt.Errorf("check metadata token ttl: %w", err)
	}
	if cfg.RequestTimeout < 0 {
		return fmt.Errorf("check metadata request timeout: %s is negative", cfg.RequestTimeout)
	}
	return nil
}
