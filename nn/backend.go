package nn

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	// The pure Go backend is always compiled in: it is the fallback that works everywhere.
	_ "github.com/gomlx/compute/gobackend"
)

// xlaPlugins lists the PJRT plugins found on the search paths, without downloading anything. It is
// set by backend_xla.go, which the build tag noxla leaves out.
var xlaPlugins = func() []string { return nil }

// goConfig is the configuration of the Go backend when NewBackend picks it: ops run one at a time
// (each matrix multiplication still uses every core). With the default parallel execution, four
// or more large matrix multiplications ready at once deadlock its worker pool (compute v0.1.2:
// each waits in Saturate for a slot the others hold), which a ResNet backward pass can reach;
// measured on the train-step and infer benchmarks, sequential ops were as fast.
const goConfig = "go:ops_sequential"

// NewBackend creates the compute backend for the whole program and returns it with its
// configuration string ("go", "xla:cpu", "xla:cuda", ...).
//
// GOMLX_BACKEND, when set, is honoured as is (e.g. "go", "xla:cuda", "xla:/abs/path/plugin.so").
// Otherwise XLA is used only when a PJRT plugin file is present on the search paths
// (PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, /usr/local/lib/go-xla, LD_LIBRARY_PATH), and the
// pure Go backend ("go:ops_sequential", see goConfig) in every other case. It never downloads a plugin, so it cannot hang offline.
// The choice is logged with log/slog.
func NewBackend() (compute.Backend, string, error) {
	config, fromEnv := os.LookupEnv(compute.ConfigEnvVar)
	reason := "from $" + compute.ConfigEnvVar
	if !fromEnv || config == "" {
		config, reason = goConfig, "no PJRT plugin found"
		if plugins := xlaPlugins(); len(plugins) > 0 {
			config, reason = "xla:"+plugins[0], "PJRT plugin found"
		}
	}
	name, _, _ := strings.Cut(config, ":")
	if !slices.Contains(compute.List(), name) {
		return nil, "", fmt.Errorf("backend %q (%s) is not compiled in; available: %s",
			config, reason, strings.Join(compute.List(), ", "))
	}
	backend, err := compute.NewWithConfig(config)
	if err != nil {
		return nil, "", fmt.Errorf("creating backend %q (%s): %w", config, reason, err)
	}
	slog.Info("compute backend", "backend", config, "reason", reason, "description", backend.Description())
	return backend, config, nil
}

// IsGoBackend reports whether b is GoMLX's pure Go backend, whose convolution, pooling and
// normalization ops are slow or missing, so the layers of this package use other formulations there.
func IsGoBackend(b compute.Backend) bool { return b.String() == "go" } // its Name() is "Go Backend"
