package metadata

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

const ttlHeader = "X-aliyun-ecs-metadata-token-ttl-seconds"

// tokenFor returns the token to send, or "" for a tokenless GET. It asks for
// a new token when there is none or when 0.8 x TTL has passed since the last
// was requested (the refresh point of Alibaba's credentials SDK), so a token
// never expires between our check and the service's.
func (c *Client) tokenFor(ctx context.Context) (string, error) {
	if c.cfg.Token == TokenOff {
		return "", nil
	}
	if tok, ok := c.cachedToken(); ok {
		return tok, nil
	}
	u := c.url() + tokenPath
	select {
	case c.putSem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("request token from %s: %w", u, ctx.Err())
	}
	defer func() { <-c.putSem }()
	if tok, ok := c.cachedToken(); ok {
		return tok, nil // another caller got one while we waited
	}

	asked := c.cfg.Now()
	tok, fallback, err := c.putToken(ctx, u)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if fallback {
		c.tokenless = true
		return "", nil
	}
	c.token = tok
	c.refreshAt = asked.Add(c.cfg.TokenTTL * 8 / 10)
	return tok, nil
}

func (c *Client) cachedToken() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokenless {
		return "", true
	}
	if c.token != "" && c.cfg.Now().Before(c.refreshAt) {
		return c.token, true
	}
	return "", false
}

// dropToken forgets tok after the service refused it, unless another caller
// has already replaced it.
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

// dropFallback forgets that TokenAuto fell back to tokenless GETs and
// reports whether it had.
func (c *Client) dropFallback() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.tokenless
	c.tokenless = false
	return was
}

// putToken asks for a token. fallback is true when TokenAuto may go on
// without one: only a 404 or 405 says the service has no token support.
func (c *Client) putToken(ctx context.Context, u string) (tok string, fallback bool, err error) {
	hdr := http.Header{}
	hdr.Set(ttlHeader, strconv.FormatInt(int64(c.cfg.TokenTTL.Seconds()), 10))
	a, err := c.do(ctx, http.MethodPut, u, hdr, maxTokenBody)
	if err != nil {
		return "", false, err
	}
	switch a.status {
	case http.StatusOK:
		tok = strings.TrimSpace(string(a.body))
		if tok == "" {
			return "", false, fmt.Errorf("request token from %s: empty token", u)
		}
		if !printable(tok) {
			return "", false, fmt.Errorf("request token from %s: token has characters other than printable ascii", u)
		}
		return tok, false, nil
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		if c.cfg.Token == TokenAuto {
			return "", true, nil
		}
		return "", false, fmt.Errorf("request token from %s: %s: the service issues no tokens and token mode is required", u, statusText(a.status))
	case http.StatusForbidden:
		// cloud-init reads a 403 here the same way.
		return "", false, fmt.Errorf("request token from %s: %s: %w", u, statusText(a.status), ErrDisabled)
	}
	return "", false, statusError("request token from", u, a)
}
