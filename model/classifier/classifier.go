// Package classifier is atelier's plain image classifier (Fashion-MNIST's ten classes, or any
// dataset whose samples carry their pixels and one category): a small ResNet-style CNN built from
// package nn, its training with augmentation, and its evaluation.
package classifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/losses"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// Scope is the store scope of the network's variables.
const Scope = "/classifier"

// Config sizes the network: a 3x3 stem, 2x2 max pooling, then one residual stage per width,
// each after the first entered by a strided 3x3 convolution, global average pooling and a dense
// layer. Every convolution is followed by batch normalization.
type Config struct {
	Widths []int `json:"widths"`
	// Blocks is the number of residual blocks (two 3x3 convolutions each) per stage.
	Blocks int `json:"blocks"`
}

// DefaultConfig is the network `atelier train classifier` trains.
func DefaultConfig() Config { return Config{Widths: []int{32, 64, 128}, Blocks: 1} }

// Validate reports a configuration that cannot be built.
func (c Config) Validate() error {
	if len(c.Widths) == 0 || c.Blocks < 0 {
		return fmt.Errorf("classifier config %+v: want at least one width and blocks >= 0", c)
	}
	for _, w := range c.Widths {
		if w < 1 {
			return fmt.Errorf("classifier config %+v: widths must be positive", c)
		}
	}
	return nil
}

// FashionMNISTNorm is the mean and standard deviation of Fashion-MNIST's training pixels.
var FashionMNISTNorm = imageio.Norm{Mean: []float32{0.2860}, Std: []float32{0.3530}}

func convBN(scope *mlmodel.Scope, x *Node, out, stride int, relu bool) *Node {
	y := nn.BatchNorm(scope, nn.Conv2D(scope, x, out, 3).Stride(stride).Bias(false).Done())
	if relu {
		y = activation.Relu(y)
	}
	return y
}

// Logits builds the network on images [B, H, W, C] (normalised) and returns [B, numClasses]
// logits. Variables live under scope.In("classifier").
func Logits(scope *mlmodel.Scope, cfg Config, images *Node, numClasses int) *Node {
	scope = scope.In("classifier")
	x := convBN(scope.In("stem"), images, cfg.Widths[0], 1, true)
	x = nn.MaxPool2D(x, 2, 2, [2]int{})
	for s, w := range cfg.Widths {
		st := scope.In("stage%d", s)
		if s > 0 {
			x = convBN(st.In("down"), x, w, 2, true)
		}
		for b := range cfg.Blocks {
			bs := st.In("block%d", b)
			h := convBN(bs.In("conv1"), x, w, 1, true)
			h = convBN(bs.In("conv2"), h, w, 1, false)
			x = activation.Relu(Add(x, h))
		}
	}
	return layers.Dense(scope.In("head"), nn.GlobalAvgPool(x), true, numClasses)
}

// Images holds grey images of one size as the samples carry them (dataset.Sample.Pixels) with
// their 0-based labels (-1 for unknown).
type Images struct {
	Pixels [][]uint8
	Labels []int32
	H, W   int
	Norm   imageio.Norm
	// Augment turns on random crops (shifts of up to Pad pixels, zero filled) and horizontal flips.
	Augment bool
	Pad     int
}

// NewImages collects the samples of a split that carry pixels. Their category (1-based) becomes
// the 0-based label.
func NewImages(samples []dataset.Sample, split dataset.Split, norm imageio.Norm) (*Images, error) {
	im := &Images{Norm: norm}
	for i := range samples {
		s := &samples[i]
		if s.Split != split {
			continue
		}
		if len(s.Pixels) == 0 || s.Width*s.Height != len(s.Pixels) {
			return nil, fmt.Errorf("sample %s has no %dx%d pixels: the classifier needs a dataset stored as arrays (fashion-mnist)", s.Image, s.Width, s.Height)
		}
		if im.H == 0 {
			im.H, im.W = s.Height, s.Width
		}
		if s.Height != im.H || s.Width != im.W {
			return nil, fmt.Errorf("sample %s is %dx%d, the others %dx%d", s.Image, s.Width, s.Height, im.W, im.H)
		}
		label := int32(-1)
		if len(s.Garments) > 0 && s.Garments[0].Category > 0 {
			label = int32(s.Garments[0].Category - 1)
		}
		im.Pixels = append(im.Pixels, s.Pixels)
		im.Labels = append(im.Labels, label)
	}
	if len(im.Pixels) == 0 {
		return nil, fmt.Errorf("no %s samples", split)
	}
	return im, nil
}

// Len implements train.Source.
func (im *Images) Len() int { return len(im.Pixels) }

// Batch implements train.Source: images [B, H, W, 1] float32 and labels [B] int32. rng may be nil
// when Augment is off.
func (im *Images) Batch(idx []int, rng *rand.Rand) ([]*tensors.Tensor, []*tensors.Tensor, error) {
	h, w := im.H, im.W
	data := make([]float32, len(idx)*h*w)
	labels := make([]int32, len(idx))
	scale, shift := 1/(255*im.Norm.Std[0]), -im.Norm.Mean[0]/im.Norm.Std[0]
	zero := shift // a zero pixel, normalised: what the padding of a crop shows.
	for i, j := range idx {
		labels[i] = im.Labels[j]
		dst := data[i*h*w : (i+1)*h*w]
		dy, dx, flip := 0, 0, false
		if im.Augment {
			dy, dx, flip = rng.IntN(2*im.Pad+1)-im.Pad, rng.IntN(2*im.Pad+1)-im.Pad, rng.IntN(2) == 1
		}
		src := im.Pixels[j]
		for y := range h {
			sy := y + dy
			for x := range w {
				sx := x + dx
				if flip {
					sx = w - 1 - x + dx
				}
				if sy < 0 || sy >= h || sx < 0 || sx >= w {
					dst[y*w+x] = zero
				} else {
					dst[y*w+x] = float32(src[sy*w+sx])*scale + shift
				}
			}
		}
	}
	images := tensors.FromFlatDataAndDimensions(data, len(idx), h, w, 1)
	return []*tensors.Tensor{images}, []*tensors.Tensor{tensors.FromValue(labels)}, nil
}

// Options set up Train.
type Options struct {
	// Out is the bundle directory; the training state (checkpoints, curves) goes to Out/training.
	Out    string
	Config Config
	// Train configures the loop; its Dir is set to Out/training.
	Train train.Config
	// Pad is the crop padding of the augmentation (default 2); NoAugment turns augmentation off.
	Pad       int
	NoAugment bool
	// Dataset describes the data in the bundle ("Fashion-MNIST"), Format is its --format.
	Dataset, Format string
	// Backend names the backend in the bundle.
	Backend string
	// Log receives a line per phase (loading, evaluating); nil discards them.
	Log io.Writer
}

// TrainingDir is where Train keeps checkpoints and curves inside the bundle directory.
const TrainingDir = "training/classifier"

// Train trains the classifier on the train split of d, evaluates it on the test split and writes
// the bundle to opts.Out. When ctx is cancelled it stops after a checkpoint (resume with
// opts.Train.Resume) and writes no bundle.
func Train(ctx context.Context, backend compute.Backend, d *dataset.Dataset, opts Options) (*eval.ClassifierResult, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	vocab := model.VocabularyOf(d.Vocab, false)
	names := vocab.CategoryNames()
	// Check the bundle before training: its other networks may not share this vocabulary.
	b, err := model.LoadOrNew(opts.Out, vocab)
	if err != nil {
		return nil, err
	}
	for task := range b.Networks {
		if task != model.TaskClassifier && !slices.Equal(b.Vocabulary.CategoryNames(), names) {
			return nil, fmt.Errorf("bundle %s holds a %s network with other categories: write the classifier to its own bundle", opts.Out, task)
		}
	}
	trainSet, err := NewImages(d.Samples, dataset.Train, FashionMNISTNorm)
	if err != nil {
		return nil, err
	}
	testSet, err := NewImages(d.Samples, dataset.Test, FashionMNISTNorm)
	if err != nil {
		return nil, err
	}
	trainSet.Augment, trainSet.Pad = !opts.NoAugment, opts.Pad
	if trainSet.Pad <= 0 {
		trainSet.Pad = 2
	}
	numClasses := len(names)
	modelFn := func(scope *mlmodel.Scope, _ any, inputs []*Node) []*Node {
		return []*Node{Logits(scope, opts.Config, inputs[0], numClasses)}
	}
	lossFn := func(labels, predictions []*Node) *Node { return losses.Category(predictions[0], labels[0]) }

	run, err := model.RunTraining(ctx, backend, model.TaskClassifier, opts.Out, TrainingDir, opts.Train, modelFn, lossFn, trainSet)
	if err != nil {
		return nil, err
	}
	res, store := run.Result, run.Store
	logf(opts.Log, "trained %d steps (%d per epoch) in %s; evaluating on %d test images",
		res.Step, res.StepsPerEpoch, res.Elapsed.Round(time.Second), testSet.Len())
	result, err := evaluate(backend, store, opts.Config, testSet, names)
	if err != nil {
		return nil, err
	}

	netCfg, err := json.Marshal(opts.Config)
	if err != nil {
		return nil, err
	}
	metrics, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	augmentation := "none"
	if trainSet.Augment {
		augmentation = fmt.Sprintf("random crop with %d px zero padding, horizontal flip", trainSet.Pad)
	}
	net := &model.Network{
		Task:          model.TaskClassifier,
		InputSize:     [2]int{trainSet.H, trainSet.W},
		Channels:      1,
		Normalization: model.Normalization{Mean: FashionMNISTNorm.Mean, Std: FashionMNISTNorm.Std},
		Config:        netCfg,
		Training:      run.Training(opts.Dataset, opts.Format, augmentation, opts.Backend),
		Metrics:       metrics,
	}
	b.Vocabulary = vocab
	if err := b.SaveNetwork(opts.Out, net, store, Scope); err != nil {
		return nil, err
	}
	if err := b.Save(opts.Out); err != nil {
		return nil, err
	}
	return result, nil
}

// Evaluate runs the bundle's classifier on the test split of d.
func Evaluate(backend compute.Backend, b *model.Bundle, d *dataset.Dataset, split dataset.Split) (*eval.ClassifierResult, error) {
	store := mlmodel.NewStore()
	net, err := b.LoadNetwork(model.TaskClassifier, store)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(net.Config, &cfg); err != nil {
		return nil, fmt.Errorf("classifier config in the bundle: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set, err := NewImages(d.Samples, split, net.Normalization.Norm())
	if err != nil {
		return nil, err
	}
	if set.H != net.InputSize[0] || set.W != net.InputSize[1] {
		return nil, fmt.Errorf("the classifier takes %dx%d images; the data has %dx%d", net.InputSize[1], net.InputSize[0], set.W, set.H)
	}
	names := b.Vocabulary.CategoryNames()
	return evaluate(backend, store, cfg, set, names)
}

// evalBatch is the inference batch size.
const evalBatch = 250

// evaluate classifies every image of set with the network in store and scores the predictions.
func evaluate(backend compute.Backend, store *mlmodel.Store, cfg Config, set *Images, names []string) (*eval.ClassifierResult, error) {
	exec, err := mlmodel.NewExec(backend, store, func(scope *mlmodel.Scope, images *Node) *Node {
		return ArgMax(Logits(scope, cfg, images, len(names)), -1)
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	var pred, labels []int
	idx := make([]int, 0, evalBatch)
	for start := 0; start < set.Len(); start += evalBatch {
		idx = idx[:0]
		for i := start; i < min(start+evalBatch, set.Len()); i++ {
			idx = append(idx, i)
		}
		inputs, _, err := set.Batch(idx, nil)
		if err != nil {
			return nil, err
		}
		out, err := exec.Call(inputs[0])
		if err != nil {
			return nil, fmt.Errorf("classifying images %d-%d: %w", start, start+len(idx)-1, err)
		}
		for k, p := range model.Take[int32](out[0]) {
			if set.Labels[idx[k]] >= 0 {
				pred = append(pred, int(p))
				labels = append(labels, int(set.Labels[idx[k]]))
			}
		}
	}
	if len(labels) == 0 {
		return nil, errors.New("no labeled images to evaluate")
	}
	res, err := eval.Classifier(pred, labels, names)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
