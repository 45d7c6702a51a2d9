package fashionnet

import (
	"errors"
	"fmt"
	"image"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
)

// MaxBatch is the largest number of crops one network call takes; Predict splits larger
// requests. Calls are padded to a power of two so that few graph shapes are ever compiled.
const MaxBatch = 32

// Crop is one garment crop to recognise.
type Crop struct {
	// Image is the garment cropped as CropGarment does (resized to the network's input size when
	// it has another size).
	Image image.Image
	// Landmarks, when set, are where to pool the local features (from an aligner), normalised to
	// the crop like Prediction.Landmarks; nil pools at the network's own predictions.
	Landmarks *[fashion.NumLandmarks][2]float32
}

// Prediction is FashionNet's output for one crop.
type Prediction struct {
	// Category holds the probability of each category of the vocabulary (softmax).
	Category []float32
	// Attributes holds a score in (0, 1) per attribute: the logistic of its logit, corrected by
	// the attribute's calibration or prior as Config.AttributeCalibration and
	// Config.AttributeAdjust say. With a calibration a score above 1/2 means that the photo makes
	// the attribute more likely than its base rate; without one, only their order is meaningful.
	Attributes []float32
	// AttributeLogits are the attribute head's logits, before any correction.
	AttributeLogits []float32
	// Landmarks are the predicted (x, y) of the eight slots relative to the crop: pixel centres
	// at (i+0.5)/size, so a crop pixel is x*size-0.5.
	Landmarks [fashion.NumLandmarks][2]float32
	// Visibility holds, per slot, the probability of each visibility class (visible first).
	Visibility [fashion.NumLandmarks][]float32
	// Embedding is the L2-normalised identity embedding.
	Embedding []float32
}

// Predictor runs a trained FashionNet. It is safe for concurrent use.
type Predictor struct {
	cfg           Config
	numCategories int
	numAttribs    int // of the vocabulary; the head has attributeOutputs(numAttribs)
	exec          *model.Exec
	scorer        attributeScorer
	id            string // of the bundle's network (model.Network.ID); "" when built otherwise
}

// NewPredictor loads the bundle's fashionnet network.
func NewPredictor(backend compute.Backend, b *model.Bundle) (*Predictor, error) {
	var cfg Config
	net, store, err := b.LoadConfigured(model.TaskFashionNet, &cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s := cfg.Backbone.InputSize; net.InputSize != [2]int{s, s} {
		return nil, fmt.Errorf("fashionnet input size %v in the bundle does not match its config (%d)", net.InputSize, s)
	}
	p, err := newPredictor(backend, store, cfg, len(b.Vocabulary.Categories), len(b.Vocabulary.Attributes))
	if err != nil {
		return nil, err
	}
	p.id = net.ID()
	return p, nil
}

// ID identifies the network whose outputs, its embeddings among them, the predictor computes
// (model.Network.ID); it is empty for a predictor not loaded from a bundle.
func (p *Predictor) ID() string { return p.id }

// attributeOutputs is the width of the attribute head: a vocabulary without attributes still
// gets one (never trained, never reported) output, so that every network has the same layers.
func attributeOutputs(n int) int { return max(n, 1) }

func newPredictor(backend compute.Backend, store *mlmodel.Store, cfg Config, numCategories, numAttribs int) (*Predictor, error) {
	if numCategories < 1 {
		return nil, errors.New("fashionnet: the vocabulary has no categories")
	}
	p := &Predictor{cfg: cfg, numCategories: numCategories, numAttribs: numAttribs, scorer: cfg.attributeScorer()}
	var err error
	p.exec, err = model.NewExec(backend, store, func(scope *mlmodel.Scope, inputs []*Node) []*Node {
		out := Build(scope, cfg, numCategories, attributeOutputs(numAttribs), inputs[0], inputs[1], inputs[2])
		return []*Node{Softmax(out.CategoryLogits, -1), out.AttributeLogits, out.Landmarks,
			Softmax(out.VisibilityLogits, -1), out.Embedding}
	})
	if err != nil {
		return nil, fmt.Errorf("fashionnet: %w", err)
	}
	return p, nil
}

// InputSize is the side of the square crops the network takes.
func (p *Predictor) InputSize() int { return p.cfg.Backbone.InputSize }

// Config returns the network's configuration.
func (p *Predictor) Config() Config { return p.cfg }

// CropGarment crops a garment from a photo around its box (x1, y1, x2, y2 in pixels) the way
// the network was trained, and returns the crop with the map from photo to crop pixels (its
// Inverse takes predicted landmarks back to the photo).
func (p *Predictor) CropGarment(img image.Image, box [4]float32) (*image.RGBA, imageio.Affine) {
	s := p.InputSize()
	return imageio.CropAround(img, box, p.cfg.Margin, s, s, fill)
}

// ToPhoto maps landmarks predicted on a crop (normalised, as Prediction.Landmarks) back to the
// photo's pixels, given the crop's toCrop map (from CropGarment).
func (p *Predictor) ToPhoto(lm [fashion.NumLandmarks][2]float32, toCrop imageio.Affine) [fashion.NumLandmarks][2]float32 {
	return toPhoto(lm, toCrop, p.InputSize())
}

// ToCrop normalises landmarks given in the photo's pixels (an aligner's) to a crop, for
// Crop.Landmarks.
func (p *Predictor) ToCrop(lm [fashion.NumLandmarks][2]float32, toCrop imageio.Affine) [fashion.NumLandmarks][2]float32 {
	size := float32(p.InputSize())
	var out [fashion.NumLandmarks][2]float32
	for l, q := range lm {
		x, y := toCrop.Apply(q[0], q[1])
		out[l] = [2]float32{(x + 0.5) / size, (y + 0.5) / size}
	}
	return out
}

func toPhoto(lm [fashion.NumLandmarks][2]float32, toCrop imageio.Affine, size int) [fashion.NumLandmarks][2]float32 {
	inv := toCrop.Inverse()
	s := float32(size)
	var out [fashion.NumLandmarks][2]float32
	for l, q := range lm {
		out[l][0], out[l][1] = inv.Apply(q[0]*s-0.5, q[1]*s-0.5)
	}
	return out
}

// Predict recognises the crops.
func (p *Predictor) Predict(crops []Crop) ([]Prediction, error) {
	out := make([]Prediction, 0, len(crops))
	for start := 0; start < len(crops); start += MaxBatch {
		preds, err := p.predictBatch(crops[start:min(start+MaxBatch, len(crops))])
		if err != nil {
			return nil, err
		}
		out = append(out, preds...)
	}
	return out, nil
}

// Close releases the compiled graphs.
func (p *Predictor) Close() { p.exec.Close() }

func (p *Predictor) predictBatch(crops []Crop) ([]Prediction, error) {
	const nl = fashion.NumLandmarks
	s := p.InputSize()
	imgs := make([]image.Image, len(crops))
	points := make([]float32, len(crops)*nl*2)
	mask := make([]float32, len(crops)*nl)
	for i, c := range crops {
		img := c.Image
		if img == nil {
			return nil, fmt.Errorf("fashionnet: crop %d has no image", i)
		}
		if sz := img.Bounds().Size(); sz.X != s || sz.Y != s {
			img, _ = imageio.Resize(img, s, s, nil)
		}
		imgs[i] = img
		if lm := c.Landmarks; lm != nil {
			for l := range nl {
				copy(points[(i*nl+l)*2:], lm[l][:])
				mask[i*nl+l] = 1
			}
		}
	}
	pixels, err := imageio.Tensor(nil, imgs, Norm)
	if err != nil {
		return nil, err
	}
	return p.run(pixels, points, mask, len(crops))
}

// networkInputs are the network's inputs for n crops of s px (pixels NHWC, given landmark points
// and their mask), zero-padded to a batch of padded so that few graphs are compiled.
func networkInputs(s, n, padded int, pixels, points, mask []float32) []any {
	const nl = fashion.NumLandmarks
	grow := func(v []float32, per int) []float32 { return append(v, make([]float32, (padded-n)*per)...) }
	return []any{tensors.FromFlatDataAndDimensions(grow(pixels, s*s*3), padded, s, s, 3),
		tensors.FromFlatDataAndDimensions(grow(points, nl*2), padded, nl, 2),
		tensors.FromFlatDataAndDimensions(grow(mask, nl), padded, nl)}
}

// run predicts n normalised crops (NHWC pixels) with their pooling points and mask (see Build).
// The batch is padded with zeros to a power of two; at inference BatchNorm treats each crop on
// its own, so padding does not change the results.
func (p *Predictor) run(pixels, points, mask []float32, n int) ([]Prediction, error) {
	const nl = fashion.NumLandmarks
	s := p.InputSize()
	padded := 1
	for padded < n {
		padded *= 2
	}
	outs, err := p.exec.Call(networkInputs(s, n, padded, pixels, points, mask)...)
	if err != nil {
		return nil, fmt.Errorf("fashionnet: %w", err)
	}
	cat, attr, lms := model.Take[float32](outs[0]), model.Take[float32](outs[1]), model.Take[float32](outs[2])
	vis, emb := model.Take[float32](outs[3]), model.Take[float32](outs[4])
	nc, na, nv, ne := p.numCategories, attributeOutputs(p.numAttribs), p.cfg.VisibilityClasses, p.cfg.EmbeddingDim
	preds := make([]Prediction, n)
	for i := range preds {
		pr := &preds[i]
		pr.Category = cat[i*nc : (i+1)*nc : (i+1)*nc]
		pr.AttributeLogits = attr[i*na : i*na+p.numAttribs : i*na+p.numAttribs]
		pr.Attributes = p.scorer.scores(pr.AttributeLogits)
		pr.Embedding = emb[i*ne : (i+1)*ne : (i+1)*ne]
		for l := range nl {
			k := i*nl + l
			pr.Landmarks[l] = [2]float32{lms[2*k], lms[2*k+1]}
			pr.Visibility[l] = vis[k*nv : (k+1)*nv : (k+1)*nv]
		}
	}
	return preds, nil
}
