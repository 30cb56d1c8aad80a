package metadata

import (
	"fmt"
	"net/url"
	"time"
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

// Defaults for the zero fields of Config.
const (
	DefaultEndpoint       = "http://100.100.100.200"
	DefaultTokenTTL       = 6 * time.Hour
	DefaultRequestTimeout = 2 * time.Second
)

// The service accepts token TTLs of 1..21600 seconds (facts.md §1).
const (
	minTokenTTL = time.Second
	maxTokenTTL = 21600 * time.Second
)

// Config configures a Client. The zero value is ready for use on an instance.
type Config struct {
	Endpoint       string           // base URL, default DefaultEndpoint
	Token          TokenMode        // default TokenAuto
	TokenTTL       time.Duration    // default DefaultTokenTTL; whole seconds in 1s..6h
	RequestTimeout time.Duration    // per request, body included; default DefaultRequestTimeout
	Now            func() time.Time // clock for token expiry; nil means time.Now
}

// withDefaults returns cfg with its zero fields filled in.
func (cfg Config) withDefaults() Config {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.Token == "" {
		cfg.Token = TokenAuto
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
	if _, err := cfg.base(); err != nil {
		return err
	}
	switch cfg.Token {
	case TokenAuto, TokenRequired, TokenOff:
	default:
		return fmt.Errorf("check metadata token mode: %q is not auto, required or off", cfg.Token)
	}
	if cfg.TokenTTL < minTokenTTL || cfg.TokenTTL > maxTokenTTL || cfg.TokenTTL%time.Second != 0 {
		return fmt.Errorf("check metadata token ttl: %s is not a whole number of seconds in %s..%s", cfg.TokenTTL, minTokenTTL, maxTokenTTL)
	}
	if cfg.RequestTimeout < 0 {
		return fmt.Errorf("check metadata request timeout: %s is negative", cfg.RequestTimeout)
	}
	return nil
}

// base parses the endpoint and returns it as "scheme://host", refusing
// anything that could make a joined path mean something else.
func (cfg Config) base() (string, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return "", fmt.Errorf("check metadata endpoint: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("check metadata endpoint %q: scheme must be http or https", cfg.Endpoint)
	case u.Host == "":
		return "", fmt.Errorf("check metadata endpoint %q: no host", cfg.Endpoint)
	case u.User != nil, u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return "", fmt.Errorf("check metadata endpoint %q: only scheme and host are allowed", cfg.Endpoint)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("check metadata endpoint %q: only scheme and host are allowed", cfg.Endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}
