package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

const maxControlBody = 1 << 20

// control serves the /emulator/ API described in the package comment.
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, controlPrefix)
	switch route {
	case "PUT keys":
		var keys []Key
		if decode(w, r, &keys) {
			s.SetKeys(keys...)
			w.WriteHeader(http.StatusNoContent)
		}
	case "PUT instance-id":
		var id string
		if decode(w, r, &id) {
			s.SetInstanceID(id)
			w.WriteHeader(http.StatusNoContent)
		}
	case "PUT all-document":
		var on bool
		if decode(w, r, &on) {
			s.SetAllDocument(on)
			w.WriteHeader(http.StatusNoContent)
		}
	case "PUT token-policy":
		var name string
		if !decode(w, r, &name) {
			return
		}
		p, err := ParseTokenPolicy(name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetTokenPolicy(p)
		w.WriteHeader(http.StatusNoContent)
	case "PUT fault", "DELETE fault":
		path := r.URL.Query().Get("path")
		if !strings.HasPrefix(path, "/") {
			http.Error(w, fmt.Sprintf("set fault: path %q must start with /", path), http.StatusBadRequest)
			return
		}
		var f Fault
		if r.Method == http.MethodPut && !decode(w, r, &f) {
			return
		}
		s.SetFault(path, f)
		w.WriteHeader(http.StatusNoContent)
	case "DELETE faults":
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case "POST expire-tokens":
		s.ExpireTokens()
		w.WriteHeader(http.StatusNoContent)
	case "GET requests":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Requests())
	default:
		http.Error(w, fmt.Sprintf("emulator: no control route %s %s", r.Method, r.URL.Path), http.StatusNotFound)
	}
}

// decode reads one JSON value from the request body into v, answering 400
// and returning false when it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = fmt.Errorf("more than one JSON value")
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("decode %s body: %v", r.URL.Path, err), http.StatusBadRequest)
		return false
	}
	return true
}
