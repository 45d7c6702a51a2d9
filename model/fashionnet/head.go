package fashionnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/losses"
	"github.com/atelier-ml/atelier/train"
)

// HeadTrainingDir is where TrainAttributeHead keeps checkpoints and curves inside the bundle
// directory.
const HeadTrainingDir = "training/attribute-head"

// HeadOptions set up TrainAttributeHead.
type HeadOptions struct {
	// Init is the bundle whose FashionNet gets the new head; Out is the bundle directory
	// written (it may be Init). An existing bundle in Out keeps its other networks.
	Init, Out string
	// Hidden is the width of the head's hidden layer (Config.AttributeHidden), at least 1.
	Hidden int
	// Train configures the loop over the features; its Dir and InitFrom are set here.
	Train train.Config
	// Dataset describes the data in the bundle; Backend names the compute backend.
	Dataset, Backend string
	// Progress, when set, is called as the features are computed, with the garments done and
	// their total.
	Progress func(done, total int)
	// Log receives a line per phase; nil discards them.
	Log io.Writer
}

// TrainAttributeHead gives the FashionNet of the bundle opts.Init a new attribute head with a
// hidden layer (Config.AttributeHidden) and leaves every other layer as it is. It runs the
// network once over the garments of the train split (cropped as at inference, without
// augmentation), keeps each garment's attribute features, and trains the head on them alone
// with binary cross-entropy (unknown labels left out): each step then costs a small matrix
// product instead of a pass of the network. Photos the network did not train on suit it best,
// since its features of its own training photos are easier to separate than those of new ones.
// The head's probabilities stand as the calibration (with the base rates of its labels) until
// Calibrate refits it. When ctx is cancelled it stops after a checkpoint and writes no bundle.
func TrainAttributeHead(ctx context.Context, backend compute.Backend, sets []*dataset.Dataset, opts HeadOptions) (*Report, error) {
	if opts.Hidden < 1 {
		return nil, fmt.Errorf("attribute head width %d: want >= 1", opts.Hidden)
	}
	src, err := model.Load(opts.Init)
	if err != nil {
		return nil, err
	}
	if err := checkVocabulary(src, sets); err != nil {
		return nil, err
	}
	var cfg Config
	_, store, err := src.LoadConfigured(model.TaskFashionNet, &cfg)
	if err != nil {
		return nil, err
	}
	numCats, numAttrs := len(src.Vocabulary.Categories), len(src.Vocabulary.Attributes)
	if numAttrs == 0 {
		return nil, fmt.Errorf("fashionnet of %s: the network has no attributes", opts.Init)
	}
	cfg.AttributeHidden = opts.Hidden
	// The old head goes first: GoMLX cannot run a graph that leaves variables of its store unused.
	for _, sc := range []string{"attributes", attributeHeadScope} {
		if err := store.DeleteVariablesInScope(Scope + "/" + sc); err != nil {
			return nil, fmt.Errorf("removing the old attribute head: %w", err)
		}
	}
	ex := NewExamples(cfg, numAttrs, sets, dataset.Train)
	logf(opts.Log, "fashionnet: computing the attribute features of the %d garments of the train split", ex.Len())
	start := time.Now()
	data, err := headFeatures(backend, store, cfg, numCats, numAttrs, ex, opts.Progress)
	if err != nil {
		return nil, err
	}
	if data.Len() == 0 {
		return nil, errors.New("fashionnet: no garment of the train split has attribute labels")
	}
	extraction := time.Since(start)
	logf(opts.Log, "fashionnet: %d garments with attribute labels, %d features each, in %s",
		data.Len(), data.dim, extraction.Round(time.Second))

	tc := opts.Train
	tc.Init, tc.InitFrom = nil, opts.Init
	trained, err := model.RunTraining(ctx, backend, model.TaskFashionNet, opts.Out, HeadTrainingDir, tc,
		func(scope *mlmodel.Scope, _ any, inputs []*Node) []*Node {
			return []*Node{attributeHead(scope.In("fashionnet"), cfg, inputs[0], numAttrs)}
		},
		func(labels, preds []*Node) *Node {
			ones := OnesLike(Slice(labels[0], AxisElem(0)))
			return losses.WeightedBCE(preds[0], labels[0], Reshape(ones, numAttrs), Reshape(ones, numAttrs))
		}, data)
	if err != nil {
		return nil, err
	}
	logf(opts.Log, "fashionnet: attribute head %s", trained)

	if err := addHead(store, trained.Store); err != nil {
		return nil, err
	}
	cfg.AttributeCalibration = make([]Calibration, numAttrs)
	for a, r := range losses.AttributePriors(data.labels, numAttrs) {
		cfg.AttributeCalibration[a] = Calibration{Slope: 1, Rate: float64(r)}
	}
	metrics, err := evaluateHeldOut(backend, store, cfg, numCats, numAttrs, sets, opts.Log)
	if err != nil {
		return nil, err
	}

	run := trained.Training(opts.Dataset, formatsOf(sets), headAugmentation, opts.Backend)
	run.Seconds += extraction.Seconds() // computing the features is part of the run
	net := model.RGBNetwork(model.TaskFashionNet, cfg.Backbone.InputSize, Norm, run)
	b, err := model.LoadOrNew(opts.Out, src.Vocabulary)
	if err != nil {
		return nil, err
	}
	b.Vocabulary = src.Vocabulary
	if err := b.SaveTrained(opts.Out, net, cfg, metrics, store, Scope); err != nil {
		return nil, err
	}
	return &Report{Run: trained.Result, Metrics: metrics}, nil
}

// headAugmentation is the training record's augmentation of an attribute head.
const headAugmentation = "none (features of the frozen network, crops around the box with margin)"

// addHead copies the attribute head trained in head into the network's store.
func addHead(store, head *mlmodel.Store) error {
	prefix := Scope + "/" + attributeHeadScope
	for v := range head.IterVariables() {
		if v.Scope() == prefix || strings.HasPrefix(v.Scope(), prefix+"/") {
			if _, err := v.CloneToStore(store); err != nil {
				return fmt.Errorf("adding the attribute head: %w", err)
			}
		}
	}
	return nil
}

// headData holds the attribute features of garments and their labels: the training set of an
// attribute head (a train.Source).
type headData struct {
	x          []float32 // one row of dim features per garment
	labels     [][]int8  // the garments' attribute labels: +1, -1, 0 unknown
	dim, attrs int
}

// Len implements train.Source.
func (d *headData) Len() int { return len(d.labels) }

// Batch implements train.Source: the features [B, dim] and the labels [B, attrs].
func (d *headData) Batch(idx []int, _ *rand.Rand) (inputs, labels []*tensors.Tensor, err error) {
	x := make([]float32, 0, len(idx)*d.dim)
	y := make([]float32, 0, len(idx)*d.attrs)
	for _, i := range idx {
		x = append(x, d.x[i*d.dim:(i+1)*d.dim]...)
		for _, l := range d.labels[i] {
			y = append(y, float32(l))
		}
	}
	return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(x, len(idx), d.dim)},
		[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(y, len(idx), d.attrs)}, nil
}

// headFeatures runs the network of store (cfg, without its attribute head) over the examples
// and returns the attribute features and labels of those with attribute labels.
func headFeatures(backend compute.Backend, store *mlmodel.Store, cfg Config, numCats, numAttrs int, ex *Examples, progress func(done, total int)) (*headData, error) {
	const nl = fashion.NumLandmarks
	exec, err := model.NewExec(backend, store, func(scope *mlmodel.Scope, in []*Node) []*Node {
		o := trunk(scope.In("fashionnet"), cfg, numCats, in[0], in[1], in[2])
		// The embedding is an output only because compute v0.1.2's Go backend fails (index out
		// of range) on a graph in which the embedding's nodes reach no output.
		return []*Node{o.AttributeFeatures, o.Embedding}
	})
	if err != nil {
		return nil, fmt.Errorf("fashionnet: %w", err)
	}
	defer exec.Close()
	s := cfg.Backbone.InputSize
	d := &headData{attrs: numAttrs}
	done := 0
	err = forEachBatch(ex, func(first int, cs []*crop, pixels []float32) error {
		// Every call has MaxBatch crops, so that one graph is compiled.
		n := len(cs)
		outs, err := exec.Call(networkInputs(s, n, MaxBatch, pixels, make([]float32, n*nl*2), make([]float32, n*nl))...)
		if err != nil {
			return fmt.Errorf("fashionnet: %w", err)
		}
		v := model.Take[float32](outs[0])
		_ = outs[1].FinalizeAll()
		d.dim = len(v) / MaxBatch
		for k := range cs {
			labels := ex.garment(first + k).Attributes
			if len(labels) != numAttrs {
				continue
			}
			d.x = append(d.x, v[k*d.dim:(k+1)*d.dim]...)
			d.labels = append(d.labels, labels)
		}
		if done += len(cs); progress != nil {
			progress(done, ex.Len())
		}
		return nil
	})
	return d, err
}
