package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/models"
	"github.com/atelier-ml/atelier/nn"
)

// loadBundle loads the model bundle in dir, or the one built into the binary when dir is empty.
func loadBundle(dir string) (*model.Bundle, error) {
	if dir == "" {
		return model.LoadFS(models.FS, models.Default)
	}
	return model.Load(dir)
}

// checkModel reports a --model that names no bundle before any long work starts.
func checkModel(dir string) error {
	if _, err := loadBundle(dir); err != nil {
		return badInput(fmt.Errorf("%s: %w", modelName(dir), err))
	}
	return nil
}

// modelName names the bundle of --model dir in messages.
func modelName(dir string) string {
	if dir == "" {
		return "the built-in model"
	}
	return "--model " + dir
}

// openPipeline loads the analyze pipeline of the model bundle in dir (the built-in one when
// empty) on the default backend.
func openPipeline(dir string, opts analyze.Options) (*analyze.Pipeline, error) {
	b, err := loadBundle(dir)
	if err != nil {
		return nil, err
	}
	backend, _, err := nn.NewBackend()
	if err != nil {
		return nil, err
	}
	return analyze.New(backend, b, opts)
}

// openCatalog opens the index of --index, or the default one under dataDir, and returns it with
// its spec; a spec that cannot be used is bad input.
func openCatalog(ctx context.Context, spec, dataDir string) (index.Index, string, error) {
	spec, err := catalogSpec(spec, dataDir)
	if err != nil {
		return nil, "", badInput(err)
	}
	idx, err := index.Open(ctx, spec)
	return idx, spec, err
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
