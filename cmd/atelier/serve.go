package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/server"
	"github.com/spf13/cobra"
)

func init() {
	subcommands = append(subcommands, newServeCmd)
}

// serveOptions are the flags of `atelier serve`.
type serveOptions struct {
	addr, model, index, dataDir, token string
	maxBodyMB                          int64
	maxMegapixels, minScore            float64
	timeout, shutdownTimeout           time.Duration
	workers, queue, demoItems          int
	logJSON                            bool
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr 127.0.0.1:8080] [--model BUNDLE_DIR] [--index ...] [--data-dir DIR]",
		Short: "Serve the HTTP API and the web page",
		Long: `Serves /v1/analyze, /v1/search, the catalog (/v1/items), the web page (/), /metrics
(Prometheus), /healthz and /readyz, until SIGINT or SIGTERM, then drains the requests in flight.

Catalog writes need the bearer token of --token or ATELIER_TOKEN; without one they are allowed
only on a loopback address. Bodies over --max-body-mb, images over --max-megapixels (read from
their header) and formats other than JPEG, PNG and WebP get a 4xx JSON error; when --workers
analyses run and --queue more wait, further requests get 503 with Retry-After.

When the default embedded index (DATA_DIR/catalog.db) holds no item but demo items, serve first
renders the --demo-items synthetic shop items it lacks into DATA_DIR/images/demo and indexes them
(/readyz answers "not ready" meanwhile); an interrupted fill resumes at the next start, and demo
items that another network embedded (a new model) are embedded again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.token == "" {
				o.token = os.Getenv("ATELIER_TOKEN")
			}
			if err := o.check(); err != nil {
				return badInput(err)
			}
			ln, err := net.Listen("tcp", o.addr)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", o.addr, err)
			}
			return serve(cmd.Context(), ln, o, newAnalyzer)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.model, "model", "", "model bundle directory (default: the bundle built into the binary)")
	f.StringVar(&o.index, "index", "", "catalog index: a file path or weaviate://HOST:PORT[/Class] (default: DATA_DIR/catalog.db)")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory of the embedded index and of uploaded item pictures")
	f.StringVar(&o.token, "token", "", "bearer token that catalog writes must present (default: $ATELIER_TOKEN)")
	f.Int64Var(&o.maxBodyMB, "max-body-mb", 20, "largest request body, in MB")
	f.Float64Var(&o.maxMegapixels, "max-megapixels", 40, "largest image, in megapixels, checked from its header before decoding")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of one request")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "time left to requests in flight at shutdown")
	f.IntVar(&o.workers, "workers", 0, "images analysed at once (default: the number of CPUs)")
	f.IntVar(&o.queue, "queue", 0, "requests that may wait for a worker before 503 (default: 4 × workers)")
	f.Float64Var(&o.minScore, "min-score", 0.3, "lowest detection score of a garment")
	f.IntVar(&o.demoItems, "demo-items", defaultDemoItems, "synthetic shop items put in an empty default index at start (0: none)")
	f.BoolVar(&o.logJSON, "log-json", false, "write the logs as JSON lines instead of key=value text")
	return cmd
}

// check refuses flag values that make no sense.
func (o serveOptions) check() error {
	switch {
	case o.maxBodyMB <= 0:
		return fmt.Errorf("--max-body-mb must be positive, not %d", o.maxBodyMB)
	case o.maxMegapixels <= 0:
		return fmt.Errorf("--max-megapixels must be positive, not %g", o.maxMegapixels)
	case o.timeout <= 0 || o.shutdownTimeout <= 0:
		return errors.New("--timeout and --shutdown-timeout must be positive")
	case o.workers < 0 || o.queue < 0 || o.demoItems < 0:
		return errors.New("--workers, --queue and --demo-items cannot be negative")
	case o.minScore < 0 || o.minScore > 1:
		return fmt.Errorf("--min-score must be in [0, 1], not %g", o.minScore)
	case o.dataDir == "" && o.index == "":
		return errors.New("give --data-dir or --index: there is no home directory for the default data dir")
	}
	return nil
}

// defaultDataDir is $XDG_DATA_HOME/atelier, or ~/.local/share/atelier.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "atelier")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "share", "atelier")
}

// newAnalyzer builds the analyze pipeline of the model bundle --model, or of the built-in one.
func newAnalyzer(_ context.Context, o serveOptions) (server.Analyzer, error) {
	p, err := openPipeline(o.model, analyze.Options{MinScore: float32(o.minScore)})
	if err != nil {
		return nil, err // a nil *Pipeline must not become a non-nil Analyzer
	}
	return p, nil
}

// serve answers HTTP on ln until ctx ends or SIGINT/SIGTERM arrives, then drains the requests in
// flight. It opens the index and builds the analyzer while already listening, so that /healthz
// answers and /readyz says "not ready" during a long model load.
func serve(ctx context.Context, ln net.Listener, o serveOptions, build func(context.Context, serveOptions) (server.Analyzer, error)) error {
	var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if o.logJSON {
		h = slog.NewJSONHandler(os.Stderr, nil)
	}
	logger := slog.New(h)
	imageDir := ""
	if o.dataDir != "" {
		imageDir = filepath.Join(o.dataDir, "images")
	}
	s := server.New(server.Config{
		Addr:            ln.Addr().String(),
		Token:           o.token,
		MaxBodyBytes:    o.maxBodyMB << 20,
		MaxPixels:       int64(o.maxMegapixels * 1e6),
		RequestTimeout:  o.timeout,
		Workers:         o.workers,
		QueueSize:       o.queue,
		ShutdownTimeout: o.shutdownTimeout,
		ImageDir:        imageDir,
		Logger:          logger,
	})
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	writes := "open to loopback clients"
	switch {
	case o.token != "":
		writes = "need the bearer token"
	case !server.IsLoopback(ln.Addr().String()):
		writes = "disabled (no token on a non-loopback address)"
	}
	logger.Info("listening", "url", "http://"+ln.Addr().String(), "catalog_writes", writes)

	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	idx, err := load(ctx, o, build, logger, imageDir)
	if err != nil {
		interrupted := ctx.Err() != nil // a signal during the load is no failure
		stop()
		serr := <-served
		if interrupted {
			return serr
		}
		return errors.Join(fmt.Errorf("loading: %w", err), serr)
	}
	s.SetBackend(idx.analyzer, idx.index)
	logger.Info("ready", "index", idx.spec, "items", idx.items)
	err = <-served
	if cerr := idx.index.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the index: %w", cerr))
	}
	return err
}

// backend is what load opens.
type backend struct {
	analyzer server.Analyzer
	index    index.Index
	spec     string
	items    int
}

// foreignScanLimit bounds the items that serve checks at start for embeddings of another
// network: enough to notice a catalog that was not embedded again, quick on a large one.
const foreignScanLimit = 10000

// warnForeign logs a warning when some of the first items of idx (it holds n) were embedded by
// another network than a's: their similarity to a's embeddings means nothing. A failed check is
// only logged, since the server works without it.
func warnForeign(ctx context.Context, logger *slog.Logger, idx index.Index, a server.Analyzer, n int) {
	em, ok := a.(server.EmbeddingModeler)
	if !ok || n == 0 || em.EmbeddingModel() == "" {
		return
	}
	checked, foreign, err := foreignItems(ctx, idx, em.EmbeddingModel(), foreignScanLimit)
	switch {
	case err != nil:
		logger.Warn("checking which network embedded the catalog items", "err", err)
	case foreign > 0:
		logger.Warn("catalog items embedded by another network: search does not find them rightly until they are embedded again (atelier index, or POST /v1/items)",
			"foreign", foreign, "checked", checked, "items", n, "embedding_model", em.EmbeddingModel())
	}
}

// load opens the catalog index, fills the demo catalog when it applies, and builds the analyzer.
func load(ctx context.Context, o serveOptions, build func(context.Context, serveOptions) (server.Analyzer, error), logger *slog.Logger, imageDir string) (*backend, error) {
	spec, err := catalogSpec(o.index, o.dataDir)
	if err != nil {
		return nil, err
	}
	logger.Info("opening the catalog index", "index", spec)
	idx, err := index.Open(ctx, spec)
	if err != nil {
		return nil, err
	}
	if o.index == "" && o.demoItems > 0 {
		_, err = fillDemo(ctx, os.Stderr, logger, o, idx, imageDir)
	}
	n := 0
	if err == nil {
		n, err = idx.Len(ctx)
	}
	if err == nil {
		var a server.Analyzer
		if a, err = build(ctx, o); err == nil {
			warnForeign(ctx, logger, idx, a, n)
			return &backend{analyzer: a, index: idx, spec: spec, items: n}, nil
		}
	}
	if cerr := idx.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the index: %w", cerr))
	}
	return nil, err
}
