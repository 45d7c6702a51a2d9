package server

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/web"
)

// Analyzer runs the garment pipeline on one decoded image. The analyze package's pipeline
// satisfies it; name is only echoed in the result.
type Analyzer interface {
	Analyze(ctx context.Context, img image.Image, name string) (analyze.Result, error)
}

// CatalogAnalyzer is an Analyzer with its own way for a shop's photo of a product, which
// POST /v1/items uses when the Analyzer has it (the pipeline's lower detection threshold).
type CatalogAnalyzer interface {
	AnalyzeCatalog(ctx context.Context, img image.Image, name string) (analyze.Result, error)
}

// EmbeddingModeler is an Analyzer that names the network computing its embeddings; POST
// /v1/items records that name in the item's metadata under index.MetaEmbeddingModel, as
// `atelier index` does, so that a later model can tell which items to embed again.
type EmbeddingModeler interface {
	EmbeddingModel() string
}

// Config holds the server's settings. The zero value of a field selects its default.
type Config struct {
	// Addr is the address the server listens on. Catalog writes without a Token are allowed only
	// when it is a loopback address; an empty Addr counts as non-loopback.
	Addr string
	// Token, when set, is the bearer token that catalog writes must present.
	Token string
	// MaxBodyBytes bounds a request body (default 20 MB).
	MaxBodyBytes int64
	// MaxPixels bounds the decoded size of an image, checked from its header (default 40 MP).
	MaxPixels int64
	// RequestTimeout bounds the handling of one request (default 30 s).
	RequestTimeout time.Duration
	// Workers is the number of images decoded and analysed at once (default GOMAXPROCS).
	Workers int
	// QueueSize is the number of requests that may wait for a worker before new ones get 503
	// (default 4 × Workers).
	QueueSize int
	// ShutdownTimeout bounds the draining of requests in flight at shutdown (default 30 s).
	ShutdownTimeout time.Duration
	// ImageDir stores the pictures of items added through the API; relative item image paths
	// are resolved against it. Empty means uploaded pictures are not kept.
	ImageDir string
	// Logger receives the structured logs (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = imageio.DefaultMaxBytes
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = imageio.DefaultMaxPixels
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4 * c.Workers
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// backend is what the API needs once loaded: the model and the catalog.
type backend struct {
	analyzer Analyzer
	index    index.Index
}

// Server is the HTTP service. Create it with New, install the model and the index with
// SetBackend once they are loaded (until then the API answers 503 and /readyz is not ready), and
// run it with Serve or mount Handler.
type Server struct {
	cfg        Config
	writesOpen bool // writes need no token: none is configured and Addr is loopback
	backend    atomic.Pointer[backend]
	draining   atomic.Bool
	limiter    *limiter
	metrics    *metrics
	handler    http.Handler

	inferMu  sync.Mutex
	inferAvg time.Duration // moving average of one inference, for Retry-After
}

// New returns a server with the given configuration.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:        cfg,
		writesOpen: cfg.Token == "" && IsLoopback(cfg.Addr),
		limiter:    newLimiter(cfg.Workers, cfg.QueueSize),
	}
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	return s
}

// SetBackend installs the analyzer and the catalog index; from then on the server is ready.
func (s *Server) SetBackend(a Analyzer, idx index.Index) {
	s.backend.Store(&backend{analyzer: a, index: idx})
}

// Handler returns the HTTP handler of the whole service.
func (s *Server) Handler() http.Handler { return s.handler }

// ready reports whether the backend is installed and the server is not shutting down.
func (s *Server) ready() bool { return s.backend.Load() != nil && !s.draining.Load() }

// loaded returns the backend, or errNotReady while it is loading.
func (s *Server) loaded() (*backend, error) {
	b := s.backend.Load()
	if b == nil {
		return nil, errNotReady
	}
	return b, nil
}

// Serve answers requests on ln until ctx ends, then stops accepting connections and waits up to
// ShutdownTimeout for the requests in flight to finish. It returns nil after a clean drain.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.writesOpen && !IsLoopback(ln.Addr().String()) {
		return fmt.Errorf("listener on %s is not loopback, but the configured address %q is: refusing to serve writes without a token", ln.Addr(), s.cfg.Addr)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout,
		// A little longer than the request timeout, so that a timed-out handler can still
		// write its JSON error.
		WriteTimeout: s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.cfg.Logger.Info("shutting down: draining requests in flight", "timeout", s.cfg.ShutdownTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		srv.Close()
		return fmt.Errorf("draining requests: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	}
	s.cfg.Logger.Info("shut down cleanly")
	return nil
}

// IsLoopback reports whether addr (host:port or host) names only the loopback interface, where
// the server allows catalog writes without a token. An empty host means every interface, which
// is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// routes builds the mux and wraps it in the middleware every request goes through.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := map[string][]string{} // path -> methods, for JSON 405 answers
	handle := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h)
		api[path] = append(api[path], method)
	}
	handle("POST", "/v1/analyze", s.handleAnalyze)
	handle("POST", "/v1/search", s.handleSearch)
	handle("GET", "/v1/items", s.handleListItems)
	handle("POST", "/v1/items", s.requireWrite(s.handleAddItem))
	handle("GET", "/v1/items/{id}", s.handleGetItem)
	handle("DELETE", "/v1/items/{id}", s.requireWrite(s.handleDeleteItem))
	handle("GET", "/v1/items/{id}/image", s.handleItemImage)
	for path, methods := range api {
		mux.HandleFunc(path, s.methodNotAllowed(methods))
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "not_found", "no API route %s", r.URL.Path))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metrics.handler())
	// The page takes every other path; it is registered for all methods so that it does not
	// conflict with the /v1/ catch-all, and refuses all but GET and HEAD itself.
	page := web.Handler()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed([]string{http.MethodGet, http.MethodHead})(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
	return s.middleware(mux)
}

// methodNotAllowed answers a known API path called with the wrong method.
func (s *Server) methodNotAllowed(methods []string) http.HandlerFunc {
	allow := strings.Join(methods, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s %s is not supported; use %s", r.Method, r.URL.Path, allow))
	}
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.draining.Load():
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "draining", "the server is shutting down"))
	case s.backend.Load() == nil:
		s.writeError(w, r, errNotReady)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// observeInference updates the moving average of one inference's duration.
func (s *Server) observeInference(d time.Duration) {
	s.inferMu.Lock()
	defer s.inferMu.Unlock()
	if s.inferAvg == 0 {
		s.inferAvg = d
		return
	}
	s.inferAvg += (d - s.inferAvg) / 8
}

// retryAfterSeconds estimates when a refused client may find a free slot: the time to work
// through a full queue at the average inference speed, between 1 and 30 seconds.
func (s *Server) retryAfterSeconds() int {
	s.inferMu.Lock()
	avg := s.inferAvg
	s.inferMu.Unlock()
	waves := float64(s.cfg.QueueSize+s.cfg.Workers) / float64(s.cfg.Workers)
	sec := math.Ceil(avg.Seconds() * waves)
	return int(min(max(sec, 1), 30))
}
