package nn

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	// The pure Go backend is always compiled in: it is the fallback that works everywhere.
	_ "github.com/gomlx/compute/gobackend"
)

// xlaPlugins lists the PJRT plugins found on the search paths, without downloading anything. It is
// set by backend_xla.go, which the build tag noxla leaves out.
var xlaPlugins = func() []string { return nil }

// goConfig is the configuration of the Go backend when NewBackend picks it: ops run in parallel
// with at most goWorkers tasks at once. compute v0.1.2 deadlocks when as many large matrix
// multiplications as its limit are running at once (each waits in Saturate for a worker slot the
// others hold); its default limit, 2*GOMAXPROCS, is reached by a ResNet backward pass on 2 cores,
// a limit of 16 only by 16 independent ones ready together. Measured on the train step
// (go test -bench TrainStep ./nn/, 2 cores): ops_sequential 1.37 s, parallelism=8 1.05 s,
// 16 0.99 s, 64 1.12 s.
const (
	goWorkers = 16
	goConfig  = "go:parallelism=16"
)

// NewBackend creates the compute backend for the whole program and returns it with its
// configuration string ("go", "xla:cpu", "xla:cuda", ...).
//
// GOMLX_BACKEND, when set, is honoured (e.g. "go", "xla:cuda", "xla:/abs/path/plugin.so"); a bare
// "go" gets goConfig's worker limit.
// Otherwise XLA is used only when a PJRT plugin file is present on the search paths
// (PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, /usr/local/lib/go-xla, LD_LIBRARY_PATH), and the
// pure Go backend (goConfig) in every other case. It never downloads a plugin, so it cannot hang offline.
// The choice is logged with log/slog.
func NewBackend() (compute.Backend, string, error) {
	config, fromEnv := os.LookupEnv(compute.ConfigEnvVar)
	reason := "from $" + compute.ConfigEnvVar
	switch {
	case !fromEnv || config == "":
		config, reason = goConfig, "no PJRT plugin found"
		if plugins := xlaPlugins(); len(plugins) > 0 {
			config, reason = "xla:"+plugins[0], "PJRT plugin found"
		}
	case config == "go":
		// The bare Go backend's default worker limit can deadlock (see goConfig).
		config, reason = goConfig, reason+", with the worker limit that avoids compute's deadlock"
	}
	name, _, _ := strings.Cut(config, ":")
	if !slices.Contains(compute.List(), name) {
		return nil, "", fmt.Errorf("backend %q (%s) is not compiled in; available: %s",
			config, reason, strings.Join(compute.List(), ", "))
	}
	backend, err := newBackend(config)
	if err != nil {
		return nil, "", fmt.Errorf("creating backend %q (%s): %w", config, reason, err)
	}
	slog.Info("compute backend", "backend", config, "reason", reason, "description", backend.Description())
	return backend, config, nil
}

// IsGoBackend reports whether b is GoMLX's pure Go backend, whose convolution, pooling and
// normalization ops are slow or missing, so the layers of this package use other formulations there.
func IsGoBackend(b compute.Backend) bool { return b.String() == "go" } // its Name() is "Go Backend"

// newBackend creates the backend of config. The Go backend's "parallelism" option prints a line on
// stdout, which would corrupt the JSON output of commands, so goConfig sets the worker limit
// through the backend's exported Workers field instead.
func newBackend(config string) (compute.Backend, error) {
	if config != goConfig {
		return compute.NewWithConfig(config)
	}
	b, err := compute.NewWithConfig("go")
	if err != nil {
		return nil, err
	}
	v := reflect.ValueOf(b)
	if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if set := v.Elem().FieldByName("Workers").MethodByName("SetMaxParallelism"); set.IsValid() {
			set.Call([]reflect.Value{reflect.ValueOf(goWorkers)})
			return b, nil
		}
	}
	b.Finalize()
	return nil, fmt.Errorf("Go backend %T has no Workers.SetMaxParallelism to set %d workers", b, goWorkers)
}
