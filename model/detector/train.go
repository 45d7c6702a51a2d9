package detector

import (
	"context"
	"fmt"
	"image"
	"io"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/train"
)

// Result is the output of `atelier eval detector`: COCO-style mAP@0.5 and mAP@[.5:.95] per class
// with the geometric consistency pass on (as the pipeline runs), and the same without it.
type Result struct {
	eval.DetectionResult
	Images   int            `json:"images"`
	Geometry GeometryEffect `json:"geometry"`
}

// GeometryEffect is the measured effect of the consistency pass: mAP without it, and the change
// it brings (positive: it helps).
type GeometryEffect struct {
	MAP50Without eval.Value `json:"map50_without"`
	MAPWithout   eval.Value `json:"map_without"`
	DeltaMAP50   eval.Value `json:"delta_map50"`
	DeltaMAP     eval.Value `json:"delta_map"`
}

// Options set up Train.
type Options struct {
	// Out is the bundle directory; checkpoints and curves go to Out/TrainingDir.
	Out    string
	Config Config
	Train  train.Config
	// EvalSplit is the split evaluated after training (default "test", or "val" when the data
	// has no test split, as DeepFashion2 has not).
	EvalSplit dataset.Split
	// Dataset and Format describe the data in the bundle; Backend names the backend.
	Dataset, Format, Backend string
	// Log receives a line per phase; nil discards them.
	Log io.Writer
}

// zoomAugment is the training zoom (see Scenes.Zoom): crops of 70-100% of the image.
const zoomAugment = 0.3

// TrainingDir is where Train keeps its state inside the bundle directory.
const TrainingDir = "training/detector"

// EvalSplitOf returns split, or the default evaluation split of d: test when it has one,
// otherwise val.
func EvalSplitOf(d *dataset.Dataset, split dataset.Split) dataset.Split {
	if split != "" {
		return split
	}
	for _, s := range d.Samples {
		if s.Split == dataset.Test {
			return dataset.Test
		}
	}
	return dataset.Val
}

// Train trains the detector on the train split of d with random horizontal flips, evaluates it
// and adds it to the bundle in opts.Out.
func Train(ctx context.Context, backend compute.Backend, d *dataset.Dataset, opts Options) (*Result, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logf(opts.Log, "loading %s images", dataset.Train)
	trainSet, err := NewScenes(d, dataset.Train, cfg.Classes, cfg.InputSize())
	if err != nil {
		return nil, err
	}
	trainSet.Flip, trainSet.Zoom = true, zoomAugment
	run, err := model.RunTraining(ctx, backend, model.TaskDetector, opts.Out, TrainingDir, opts.Train, ModelFn(cfg), LossFn, trainSet)
	if err != nil {
		return nil, err
	}
	split := EvalSplitOf(d, opts.EvalSplit)
	logf(opts.Log, "%s; evaluating on the %s split", run, split)
	det, err := New(backend, run.Store, cfg, trainSet.Norm)
	if err != nil {
		return nil, err
	}
	defer det.Close()
	testSet, err := NewScenes(d, split, cfg.Classes, cfg.InputSize())
	if err != nil {
		return nil, err
	}
	result, err := det.Evaluate(testSet)
	if err != nil {
		return nil, err
	}

	// The detector's classes live in its config: SaveTrained keeps the bundle's vocabulary
	// (FashionNet's categories and attributes) and its other networks.
	net := model.RGBNetwork(model.TaskDetector, cfg.InputSize(), trainSet.Norm, run.Training(opts.Dataset, opts.Format,
		fmt.Sprintf("letterbox, random zoom on %.0f-100%% of the image, horizontal flip", 100*(1-zoomAugment)),
		opts.Backend))
	if err := model.New(model.Vocabulary{}).SaveTrained(opts.Out, net, cfg, result, run.Store, Scope); err != nil {
		return nil, err
	}
	return result, nil
}

// ModelFn is the training graph: images to the three raw maps.
func ModelFn(cfg Config) train.ModelFn {
	return func(scope *mlmodel.Scope, _ any, inputs []*Node) []*Node {
		out := Forward(scope, cfg, inputs[0])
		return []*Node{out.Heat, out.Size, out.Offset}
	}
}

// LossFn is Loss on the labels of Scenes.Batch.
func LossFn(labels, predictions []*Node) *Node {
	return Loss(Outputs{Heat: predictions[0], Size: predictions[1], Offset: predictions[2]},
		labels[0], labels[1], labels[2], labels[3])
}

// Evaluate detects the garments of set and scores them with and without the consistency pass.
func (d *Detector) Evaluate(set *Scenes) (*Result, error) {
	lbs := make([]image.Image, set.Len())
	for i, img := range set.Images {
		lbs[i] = img
	}
	o := DecodeOptions{}.withDefaults()
	cands, err := d.candidates(lbs, o.MinScore)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(d.cfg.Classes))
	for i, c := range d.cfg.Classes {
		names[i] = c.Name
	}
	gts := set.groundTruth()
	score := func(noGeometry bool) (eval.DetectionResult, error) {
		var dets []eval.Detection
		oo := o
		oo.NoGeometry = noGeometry
		for i, cs := range cands {
			inv := set.ToInput[i].Inverse()
			for _, c := range postprocess(cs, d.types, oo) {
				dets = append(dets, eval.Detection{Image: i, Class: c.Class, Box: inv.Box(c.Box), Score: c.Score})
			}
		}
		return eval.Detections(dets, gts, names)
	}
	on, err := score(false)
	if err != nil {
		return nil, err
	}
	off, err := score(true)
	if err != nil {
		return nil, err
	}
	return &Result{DetectionResult: on, Images: set.Len(), Geometry: GeometryEffect{
		MAP50Without: off.MAP50, MAPWithout: off.MAP,
		DeltaMAP50: on.MAP50 - off.MAP50, DeltaMAP: on.MAP - off.MAP,
	}}, nil
}

// Evaluate runs the bundle's detector on a split of d.
func Evaluate(backend compute.Backend, b *model.Bundle, d *dataset.Dataset, split dataset.Split) (*Result, error) {
	det, err := Load(backend, b)
	if err != nil {
		return nil, err
	}
	defer det.Close()
	set, err := NewScenes(d, EvalSplitOf(d, split), det.cfg.Classes, det.cfg.InputSize())
	if err != nil {
		return nil, err
	}
	return det.Evaluate(set)
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
