package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

const (
	tokenHeader = "X-aliyun-ecs-metadata-token"
	userAgent   = "ecs-keyagent"
)

// errNotFound marks a 404 so that list can tell "no key bound" apart.
var errNotFound = errors.New("404 Not Found")

// answer is what one HTTP exchange produced.
type answer struct {
	status   int
	location string
	body     []byte // only for 200, at most the limit given to do
}

// get GETs u with the token, if any, and returns the 200 body. On a 401 it
// drops the token and tries once more with a new one; on a 403 after
// TokenAuto fell back it asks for a token once more (the instance may have
// switched to hardened mode). Any other answer than 200 is an error.
func (c *Client) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		tok, err := c.tokenFor(ctx)
		if err != nil {
			return nil, err
		}
		hdr := http.Header{}
		if tok != "" {
			hdr.Set(tokenHeader, tok)
		}
		a, err := c.do(ctx, http.MethodGet, u, hdr, limit)
		if err != nil {
			return nil, err
		}
		switch {
		case a.status == http.StatusOK:
			return a.body, nil
		case a.status == http.StatusUnauthorized && tok != "" && attempt == 1:
			c.dropToken(tok)
			continue
		case a.status == http.StatusForbidden && tok == "" && attempt == 1 && c.dropFallback():
			continue
		}
		return nil, c.getError(u, a, tok)
	}
}

func (c *Client) getError(u string, a answer, tok string) error {
	switch {
	case a.status == http.StatusNotFound:
		return fmt.Errorf("fetch %s: %w", u, errNotFound)
	case a.status == http.StatusUnauthorized && tok != "":
		return fmt.Errorf("fetch %s: %s: token refused again after renewal", u, statusText(a.status))
	case a.status == http.StatusForbidden && tok == "" && c.cfg.Token == TokenOff:
		return fmt.Errorf("fetch %s: %s: the instance may enforce security-hardening mode, and token mode is off", u, statusText(a.status))
	}
	return statusError("fetch", u, a)
}

// statusError describes an answer other than 200.
func statusError(verb, u string, a answer) error {
	if a.status >= 300 && a.status < 400 {
		return fmt.Errorf("%s %s: %s: refusing to follow a redirect to %q", verb, u, statusText(a.status), truncate(a.location, 200))
	}
	return fmt.Errorf("%s %s: %w", verb, u, StatusError{a.status})
}

// statusText formats a status from our own table, not the server's words.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprintf("status %d", code)
}

// do sends one request, bounded by RequestTimeout from dial to the last byte
// of the body, so a server that drips its answer is cut off too. It reads
// at most limit bytes of a 200 body and never follows redirects.
func (c *Client) do(ctx context.Context, method, u string, hdr http.Header, limit int64) (answer, error) {
	verb := "fetch"
	if method == http.MethodPut {
		verb = "request token from"
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, u, nil)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", verb, u, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, c.transportError(ctx, rctx, verb, u, err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, location: resp.Header.Get("Location")}
	if resp.StatusCode != http.StatusOK {
		return a, nil
	}
	if resp.ContentLength > limit {
		return a, fmt.Errorf("%s %s: body of %d bytes exceeds the limit of %d", verb, u, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return a, c.transportError(ctx, rctx, verb, u, fmt.Errorf("read body: %w", err))
	}
	if int64(len(body)) > limit {
		return a, fmt.Errorf("%s %s: body exceeds the limit of %d bytes", verb, u, limit)
	}
	a.body = body
	return a, nil
}

// transportError names what went wrong without repeating the URL that
// net/http puts in its own errors.
func (c *Client) transportError(ctx, rctx context.Context, verb, u string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s %s: %w", verb, u, ctxErr)
	}
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w within %s", verb, u, ErrTimeout, c.cfg.RequestTimeout)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("%s %s: %w", verb, u, err)
}
