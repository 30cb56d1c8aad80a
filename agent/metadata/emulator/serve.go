package emulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	tokenHeader   = "X-aliyun-ecs-metadata-token"
	ttlHeader     = "X-aliyun-ecs-metadata-token-ttl-seconds"
	tokenPath     = "/latest/api/token"
	metaPrefix    = "/latest/meta-data/"
	keysPath      = metaPrefix + "public-keys/"
	allPath       = metaPrefix + "all"
	controlPrefix = "/emulator/"
	maxTTLSeconds = 21600
)

// response is an answer before a fault changes it and it is written.
type response struct {
	status int
	header http.Header
	body   []byte
}

func text(status int, body string) response {
	return response{status: status, header: http.Header{}, body: []byte(body)}
}

func errorText(status int) response {
	return text(status, http.StatusText(status)+"\n")
}

// ServeHTTP answers metadata requests and, under /emulator/, the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control(w, r)
		return
	}
	s.record(r)
	f, faulty := s.takeFault(r.URL.Path)
	if faulty && f.Delay > 0 && !sleep(r, f.Delay) {
		return
	}
	resp := s.answer(r)
	if faulty {
		f.apply(&resp)
	}
	f.write(w, r, resp)
}

// answer is what the service would say without faults.
func (s *Server) answer(r *http.Request) response {
	s.mu.Lock()
	policy := s.policy
	instanceID := s.instanceID
	s.mu.Unlock()

	if r.URL.Path == tokenPath {
		return s.answerToken(r, policy)
	}
	if policy == TokenDisabled {
		return errorText(http.StatusForbidden)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		resp := errorText(http.StatusMethodNotAllowed)
		resp.header.Set("Allow", "GET, HEAD")
		return resp
	}
	if policy != TokenNone {
		tok := r.Header.Get(tokenHeader)
		switch {
		case tok != "" && !s.tokenValid(tok):
			return errorText(http.StatusUnauthorized)
		case tok == "" && policy == TokenEnforced:
			return errorText(http.StatusForbidden)
		}
	}

	p := r.URL.Path
	switch {
	case p == metaPrefix+"instance-id":
		return text(http.StatusOK, instanceID)
	case p == keysPath:
		if l, ok := s.listing(); ok {
			return text(http.StatusOK, l)
		}
	case p == allPath:
		if doc, ok := s.allDocument(); ok {
			resp := text(http.StatusOK, doc)
			resp.header.Set("Content-Type", "application/json")
			return resp
		}
	case strings.HasPrefix(p, keysPath):
		id, rest, _ := strings.Cut(strings.TrimPrefix(p, keysPath), "/")
		body, ok := s.keyBody(id)
		switch {
		case !ok:
		case rest == "openssh-key":
			return text(http.StatusOK, body)
		case rest == "":
			return text(http.StatusOK, "openssh-key\n")
		}
	}
	return errorText(http.StatusNotFound)
}

func (s *Server) answerToken(r *http.Request, policy TokenPolicy) response {
	switch {
	case policy == TokenNone:
		return errorText(http.StatusNotFound)
	case r.Method != http.MethodPut:
		resp := errorText(http.StatusMethodNotAllowed)
		resp.header.Set("Allow", "PUT")
		return resp
	case policy == TokenDisabled:
		return errorText(http.StatusForbidden)
	case r.Header.Get("X-Forwarded-For") != "":
		return errorText(http.StatusForbidden)
	}
	ttl, err := strconv.Atoi(r.Header.Get(ttlHeader))
	if err != nil || ttl < 1 || ttl > maxTTLSeconds {
		return errorText(http.StatusBadRequest)
	}
	return text(http.StatusOK, s.issueToken(time.Duration(ttl)*time.Second))
}

// sleep waits d or until the client goes away, and reports whether d passed.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
