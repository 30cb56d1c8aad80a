package metadata

import (
	"errors"
	"net"
)

// DefaultFallback is the metadata service's IPv6 address, tried when the
// default endpoint cannot be reached (cloud-init #6892 and PR #6893 add it
// for IPv6-only guests).
const DefaultFallback Endpoint = "http://[fd00:100::100:200]"

// url returns the endpoint in use.
func (c *Client) url() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base
}

// switchEndpoint swaps the endpoint in use with the other one and forgets
// what belongs to an endpoint: its token, whether it serves the all
// document, the instance id it gave.
func (c *Client) switchEndpoint() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.other == "" {
		return
	}
	c.base, c.other = c.other, c.base
	c.token, c.tokenless, c.noAll, c.id = "", false, false, ""
}

// unreachable reports an error that got no HTTP answer at all: a refused
// or failed connection, or a timeout before any answer.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, ErrTimeout)
}
