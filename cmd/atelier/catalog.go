package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/nn"
)

// errNoModel says why --model is needed until the binary ships a built-in bundle.
var errNoModel = errors.New("this build has no built-in model yet: pass --model BUNDLE_DIR (a bundle made by atelier train detector, aligner and fashionnet)")

// openPipeline loads the analyze pipeline of the model bundle in dir on the default backend.
func openPipeline(dir string, opts analyze.Options) (*analyze.Pipeline, error) {
	if dir == "" {
		return nil, errNoModel
	}
	backend, _, err := nn.NewBackend()
	if err != nil {
		return nil, err
	}
	return analyze.Open(backend, dir, opts)
}

// catalogSpec is the index spec of --index, or the embedded index file catalog.db in dataDir
// (created if missing) when --index is empty.
func catalogSpec(spec, dataDir string) (string, error) {
	if spec != "" {
		return spec, nil
	}
	if dataDir == "" {
		return "", errors.New("give --data-dir or --index: there is no home directory for the default data dir")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("creating the data dir: %w", err)
	}
	return filepath.Join(dataDir, "catalog.db"), nil
}
