package model

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/gomlx/compute"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/train"
)

// Trained is a finished run of the training loop on one of a bundle's networks.
type Trained struct {
	// Config is the run's configuration, with its Dir and Name filled in.
	Config train.Config
	Result *train.Result
	// Store holds the trained variables (and the optimizer's state).
	Store *mlmodel.Store
	// Samples is the number of training examples.
	Samples int
	// Earlier are the runs of the network it started from (Config.InitFrom), earliest first.
	Earlier []Training
}

// RunTraining trains the network of task with train.Run on a new store seeded with tc.Seed. The
// loop keeps its checkpoints and curves in bundleDir/trainingDir (slash-separated); tc.Name
// defaults to task. A run that starts from a bundle's weights (tc.InitFrom) first reads the runs
// of that bundle's network, for its record, so that a missing one fails before the training.
func RunTraining(ctx context.Context, backend compute.Backend, task, bundleDir, trainingDir string, tc train.Config,
	modelFn train.ModelFn, lossFn train.LossFn, src train.Source) (*Trained, error) {
	var earlier []Training
	if tc.InitFrom != "" {
		var err error
		if earlier, err = runsOf(tc.InitFrom, task); err != nil {
			return nil, err
		}
	}
	tc.Dir = filepath.Join(bundleDir, filepath.FromSlash(trainingDir))
	if tc.Name == "" {
		tc.Name = task
	}
	store := train.InitStore(tc.Seed)
	res, err := train.Run(ctx, backend, store, modelFn, lossFn, src, tc)
	if err != nil {
		return nil, err
	}
	return &Trained{Config: tc, Result: res, Store: store, Samples: src.Len(), Earlier: earlier}, nil
}

// String tells how many steps the run did and how fast.
func (t *Trained) String() string {
	r := t.Result
	return fmt.Sprintf("trained %d steps in %s (%.2f s/step)",
		r.Step, r.Elapsed.Round(time.Second), r.Elapsed.Seconds()/float64(max(r.StepsRun, 1)))
}

// Training describes the run for bundle.json, given what the loop does not know: the data
// (trained on its train split), the augmentation and the backend. Epochs is 0 when the run was
// bounded by steps. A run that started from a bundle's weights (train.Config.InitFrom) also
// records the runs of that bundle's network.
func (t *Trained) Training(data, format, augmentation, backend string) Training {
	tc, r := t.Config, t.Result
	epochs := tc.Epochs
	if tc.Steps > 0 {
		epochs = 0
	}
	return Training{
		Dataset: data, Format: format, Split: string(dataset.Train), Samples: t.Samples,
		Augmentation: augmentation, Epochs: epochs, Steps: r.Step, BatchSize: tc.BatchSize,
		LearningRate: tc.LearningRate, Seed: tc.Seed, InitializedFrom: tc.InitFrom, Backend: backend, Seconds: r.TotalElapsed.Seconds(),
		Earlier: t.Earlier,
	}
}

// runsOf returns the runs that the network of task in the bundle dir went through, earliest first.
func runsOf(dir, task string) ([]Training, error) {
	b, err := Load(dir)
	var n *Network
	if err == nil {
		n, err = b.Network(task)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the runs of %s, which this one continues: %w", dir, err)
	}
	last := n.Training
	last.Earlier = nil
	return append(slices.Clip(n.Training.Earlier), last), nil
}
