package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// requestID returns the id of the request that ctx belongs to.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// logger returns the request's logger, which tags every line with the request id.
func logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// validRequestID accepts a client's X-Request-Id only if it is short and plain, so that it
// cannot forge log lines or bloat them.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// randomID returns 16 random hex digits, for request ids and generated item ids.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and size of a response for the logs and the metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// quietRoutes are polled by machines; their requests are logged at debug level only.
var quietRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// middleware gives every request an id, a logger, a deadline and a bounded body, recovers
// from panics, and records one log line and the metrics when the request ends.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = randomID()
		}
		w.Header().Set("X-Request-Id", id)
		log := s.cfg.Logger.With("request_id", id)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		ctx = context.WithValue(context.WithValue(ctx, requestIDKey, id), loggerKey, log)
		r = r.WithContext(ctx)
		if r.ContentLength > s.cfg.MaxBodyBytes {
			// Refuse a declared oversized body before reading any of it.
			r.Body = io.NopCloser(errReader{&http.MaxBytesError{Limit: s.cfg.MaxBodyBytes}})
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic", "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			route := r.Pattern // set by the mux on this request
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(route, methodLabel(r.Method), rec.status, d)
			level := slog.LevelInfo
			if quietRoutes[route] {
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "request", "method", r.Method, "path", r.URL.Path, "route", route,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(d.Microseconds())/1000,
				"remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rec, r)
	})
}

// methodLabel bounds the method label of the metrics: clients can send any method name.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch:
		return m
	}
	return "OTHER"
}

// requireWrite guards a catalog write with the server's write policy.
func (s *Server) requireWrite(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.authorizeWrite(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	}
}

// authorizeWrite checks the bearer token when one is configured; without one, writes are
// allowed only on a loopback address, where no stranger can reach the server.
func (s *Server) authorizeWrite(r *http.Request) error {
	if s.cfg.Token == "" {
		if s.writesOpen {
			return nil
		}
		return errorf(http.StatusForbidden, "writes_disabled",
			"catalog writes are disabled: the server listens on a non-loopback address without a token (set --token or ATELIER_TOKEN)")
	}
	auth := r.Header.Get("Authorization")
	const scheme = "bearer "
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return errorf(http.StatusUnauthorized, "unauthorized", "catalog writes need an Authorization: Bearer token")
	}
	if subtle.ConstantTimeCompare([]byte(auth[len(scheme):]), []byte(s.cfg.Token)) != 1 {
		return errorf(http.StatusUnauthorized, "unauthorized", "the bearer token is not valid")
	}
	return nil
}
