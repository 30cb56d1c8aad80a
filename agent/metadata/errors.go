package metadata

import "errors"

// Errors a caller may tell apart (with errors.Is and errors.As), to say
// what to do about them.
var (
	// ErrTimeout: the service gave no complete answer within the request
	// timeout.
	ErrTimeout = errors.New("no complete answer")
	// ErrDisabled: the token request answered 403, the service's way of
	// saying that metadata access is disabled for the instance.
	ErrDisabled = errors.New("metadata access is disabled for this instance")
)

// StatusError is an HTTP answer other than 200 that ends a request.
type StatusError struct{ Status int }

func (e StatusError) Error() string { return statusText(e.Status) }
