// Package models holds the model bundles compiled into atelier. models/default is the pipeline
// bundle (detector, aligner, FashionNet) that every command uses when --model is not given; it is
// made by `make models` from the synthetic generator with fixed seeds, and MODEL_CARD.md next to
// it says how it was trained and how well it does.
package models

import (
	"embed"
	"io/fs"
)

// Only the networks' inference checkpoints: training state in default/training stays out.
//
//go:embed default/bundle.json default/detector default/aligner default/fashionnet
var builtin embed.FS

// Default is the directory of the built-in pipeline bundle in FS.
const Default = "default"

// FS holds the built-in bundles.
var FS fs.FS = builtin
