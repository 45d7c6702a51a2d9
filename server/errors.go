package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an error the client can act on: it carries the HTTP status and a stable,
// machine-readable code next to the human-readable message.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// errorf returns an *apiError with a formatted message.
func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// errQueueFull is returned when the inference queue is full; the client should retry later.
var errQueueFull = errorf(http.StatusServiceUnavailable, "overloaded", "the server is busy; retry later")

// errNotReady is returned while the model or the index are still loading.
var errNotReady = errorf(http.StatusServiceUnavailable, "not_ready", "the model and the catalog index are still loading; retry later")

// errorBody is the JSON document of every error response.
type errorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError answers err as a JSON error. Errors that are not *apiError are internal: their
// text is logged, not shown, since it may name files or internals.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, context.DeadlineExceeded):
		ae = errorf(http.StatusGatewayTimeout, "timeout", "the request took longer than %s", s.cfg.RequestTimeout)
	case errors.Is(err, context.Canceled):
		// The client went away; the status is only seen by the logs.
		ae = errorf(499, "canceled", "request canceled")
	default:
		logger(r.Context()).Error("request failed", "err", err)
		ae = errorf(http.StatusInternalServerError, "internal", "internal error")
	}
	switch ae.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="atelier"`)
	}
	writeJSON(w, ae.status, errorBody{Error: ae.msg, Code: ae.code, RequestID: requestID(r.Context())})
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Encoding errors here mean the client hung up; there is nobody left to tell.
	_ = enc.Encode(v)
}
