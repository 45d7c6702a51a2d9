package aligner

import (
	"context"
	"fmt"
	"image"
	"io"
	"math/rand/v2"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/train"
)

// Options set up Train.
type Options struct {
	// Out is the bundle directory; checkpoints and curves go to Out/TrainingDir.
	Out    string
	Config Config
	Train  train.Config
	// EvalSplit is the split evaluated after training (default test).
	EvalSplit dataset.Split
	// Dataset and Format describe the data in the bundle; Backend names the backend.
	Dataset, Format, Backend string
	// Log receives a line per phase; nil discards them.
	Log io.Writer
}

// TrainingDir is where Train keeps its state inside the bundle directory.
const TrainingDir = "training/aligner"

// kmeansIterations bounds Lloyd's iterations.
const kmeansIterations = 100

// Train clusters the training configurations into pseudo-labels (k-means, seeded by the
// training seed), trains the cascade with crop jitter and flips, evaluates it and adds it to
// the bundle in opts.Out.
func Train(ctx context.Context, backend compute.Backend, d *dataset.Dataset, opts Options) (*eval.AlignerResult, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logf(opts.Log, "loading %s garments", dataset.Train)
	trainSet, err := NewCrops(d, dataset.Train, cfg.InputSize(), cfg.Margin)
	if err != nil {
		return nil, err
	}
	cs, _, err := KMeans(trainSet.Shapes(), cfg.Clusters, kmeansIterations, rand.New(rand.NewPCG(opts.Train.Seed, 0x6b6d)))
	if err != nil {
		return nil, fmt.Errorf("pseudo-labels: %w", err)
	}
	cfg.Centroids = cs
	trainSet.Centroids, trainSet.Augment = cs, true

	run, err := model.RunTraining(ctx, backend, model.TaskAligner, opts.Out, TrainingDir, opts.Train, ModelFn(cfg), LossFn, trainSet)
	if err != nil {
		return nil, err
	}
	split := opts.EvalSplit
	if split == "" {
		split = dataset.Test
	}
	logf(opts.Log, "%s; evaluating on the %s split", run, split)
	al, err := New(backend, run.Store, cfg, trainSet.Norm)
	if err != nil {
		return nil, err
	}
	defer al.Close()
	testSet, err := NewCrops(d, split, cfg.InputSize(), cfg.Margin)
	if err != nil {
		return nil, err
	}
	result, err := al.Evaluate(testSet)
	if err != nil {
		return nil, err
	}

	// The aligner adds the landmark names; SaveTrained keeps the rest of the bundle's vocabulary
	// (FashionNet's categories and attributes) and its other networks.
	net := model.RGBNetwork(model.TaskAligner, cfg.InputSize(), trainSet.Norm, run.Training(opts.Dataset, opts.Format,
		fmt.Sprintf("box crop with %.2f margin, scale jitter %.2f, shift %.2f, horizontal flip", cfg.Margin, Jitter.Scale, Jitter.Shift),
		opts.Backend))
	b := model.New(model.Vocabulary{Landmarks: fashion.LandmarkNames[:]})
	if err := b.SaveTrained(opts.Out, net, cfg, result, run.Store, Scope); err != nil {
		return nil, err
	}
	return result, nil
}

// ModelFn is the training graph: crops to every stage's points, visibility and pseudo-label
// logits.
func ModelFn(cfg Config) train.ModelFn {
	return func(scope *mlmodel.Scope, _ any, inputs []*Node) []*Node {
		out := Forward(scope, cfg, inputs[0])
		return append([]*Node{out.Vis, out.Cluster}, out.Points...)
	}
}

// LossFn is Loss on the labels of Crops.Batch.
func LossFn(labels, predictions []*Node) *Node {
	out := Outputs{Vis: predictions[0], Cluster: predictions[1], Points: predictions[2:]}
	return Loss(out, labels[0], labels[1], labels[2], labels[3])
}

// Evaluate aligns every garment of set (a crop of its box, as the pipeline cuts it) and scores
// each stage against the labels in photo pixels.
func (a *Aligner) Evaluate(set *Crops) (*eval.AlignerResult, error) {
	crops := make([]image.Image, set.Len())
	maps := make([]imageio.Affine, set.Len())
	for i := range crops {
		img, toCrop, _, _ := set.crop(i, nil)
		crops[i], maps[i] = img, set.ToPre[i].Then(toCrop)
	}
	als, err := a.alignCrops(crops, maps)
	if err != nil {
		return nil, err
	}
	stages := make([][]eval.LandmarkCase, Stages)
	for i, al := range als {
		for s := range Stages {
			stages[s] = append(stages[s], eval.GarmentCase(al.Stages[s], set.Garments[i], set.Sizes[i][0], set.Sizes[i][1]))
		}
	}
	res, err := eval.Aligner(stages, eval.LandmarkOptions{})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Evaluate runs the bundle's aligner on a split of d.
func Evaluate(backend compute.Backend, b *model.Bundle, d *dataset.Dataset, split dataset.Split) (*eval.AlignerResult, error) {
	al, err := Load(backend, b)
	if err != nil {
		return nil, err
	}
	defer al.Close()
	set, err := NewCrops(d, split, al.cfg.InputSize(), al.cfg.Margin)
	if err != nil {
		return nil, err
	}
	return al.Evaluate(set)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
