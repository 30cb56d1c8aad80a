package metadata

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// loggingTransport logs each request at debug level: method, path, status
// and time. Never a header: they carry the token.
type loggingTransport struct {
	next http.RoundTripper
	log  *zap.Logger
}

func (t loggingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	fields := []zap.Field{zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Duration("took", time.Since(start))}
	if err != nil {
		t.log.Debug("metadata request", append(fields, zap.Error(err))...)
		return resp, err
	}
	t.log.Debug("metadata request", append(fields, zap.Int("status", resp.StatusCode))...)
	return resp, nil
}
