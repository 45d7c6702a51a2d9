package nn

import (
	"strings"
	"testing"
)

func TestNewBackend(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{"go", goConfig}, // the bare Go backend can deadlock: it gets the worker limit
		{"go:ops_sequential", "go:ops_sequential"},
	} {
		t.Setenv("GOMLX_BACKEND", tc.env)
		b, config, err := NewBackend()
		if err != nil || config != tc.want || !IsGoBackend(b) {
			t.Fatalf("GOMLX_BACKEND=%s: NewBackend() = %v, %q, %v; want config %q", tc.env, b, config, err, tc.want)
		}
	}

	t.Setenv("GOMLX_BACKEND", "nosuch")
	if _, _, err := NewBackend(); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("GOMLX_BACKEND=nosuch: error %v, want one naming the backend", err)
	}

	// Unset: XLA only with a plugin on the search paths (never downloaded), else Go.
	t.Setenv("GOMLX_BACKEND", "")
	b, config, err := NewBackend()
	if err != nil {
		t.Fatal(err)
	}
	if plugins := xlaPlugins(); len(plugins) > 0 {
		if config != "xla:"+plugins[0] {
			t.Errorf("with plugins %v found: backend %q, want xla:%s", plugins, config, plugins[0])
		}
	} else if config != goConfig || !IsGoBackend(b) {
		t.Errorf("without a PJRT plugin: backend %q, want %s", config, goConfig)
	}
}
