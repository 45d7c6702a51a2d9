package fashionnet

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"path/filepath"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
)

// Norm is the pixel normalisation of FashionNet's inputs.
var Norm = imageio.ImageNetNorm

// fill is what a crop shows beyond the edges of the photo: mid grey, zero after normalisation.
var fill = color.RGBA{124, 116, 104, 255}

// Augmentation of the training crops.
var (
	trainJitter = imageio.CropJitter{Scale: 0.1, Shift: 0.05}
	trainColor  = imageio.ColorJitter{Brightness: 0.3, Contrast: 0.3, Saturation: 0.3}
)

// augmentation describes the augmentation in words, for the bundle.
const augmentation = "crop around the box with margin, scale jitter 10%, shift jitter 5%, horizontal flip swapping left/right landmarks, colour jitter 0.3"

// Example is one garment of a dataset sample, the unit FashionNet sees.
type Example struct {
	// Root is the dataset folder the sample's image path is relative to.
	Root    string
	Sample  *dataset.Sample
	Garment int
	// Item is the example's item number in its Examples (the same for every view of an item), or
	// -1 when the dataset gives no item id.
	Item int32
}

// Examples is a set of garments with their labels; it implements train.Source. Images are
// decoded, cropped and augmented on demand, in parallel, so memory does not grow with the data.
type Examples struct {
	cfg           Config
	numAttributes int
	list          []Example
	// views lists the examples of each item.
	views [][]int
	// Augment turns on the training augmentation.
	Augment bool
}

// NewExamples collects the garments of the samples of the given splits of each dataset (in
// order). Item ids are keyed by dataset, so that two datasets never share an item.
func NewExamples(cfg Config, numAttributes int, sets []*dataset.Dataset, splits ...dataset.Split) *Examples {
	ex := &Examples{cfg: cfg, numAttributes: numAttributes}
	for di, d := range sets {
		items := map[string]int32{}
		for si := range d.Samples {
			s := &d.Samples[si]
			if !hasSplit(splits, s.Split) {
				continue
			}
			for gi, g := range s.Garments {
				e := Example{Root: d.Root, Sample: s, Garment: gi, Item: -1}
				if g.ItemID != "" {
					key := fmt.Sprintf("%d/%s", di, g.ItemID)
					id, ok := items[key]
					if !ok {
						id = int32(len(ex.views))
						items[key] = id
						ex.views = append(ex.views, nil)
					}
					e.Item = id
					ex.views[id] = append(ex.views[id], len(ex.list))
				}
				ex.list = append(ex.list, e)
			}
		}
	}
	return ex
}

func hasSplit(splits []dataset.Split, s dataset.Split) bool {
	for _, x := range splits {
		if x == s {
			return true
		}
	}
	return false
}

// Len implements train.Source.
func (ex *Examples) Len() int { return len(ex.list) }

// At returns example i.
func (ex *Examples) At(i int) Example { return ex.list[i] }

// garment returns example i's garment.
func (ex *Examples) garment(i int) *dataset.Garment {
	e := ex.list[i]
	return &e.Sample.Garments[e.Garment]
}

// AttributeLabels returns the attribute labels of every example that has them, for
// losses.AttributeWeights.
func (ex *Examples) AttributeLabels() [][]int8 {
	var rows [][]int8
	for i := range ex.list {
		if a := ex.garment(i).Attributes; len(a) == ex.numAttributes {
			rows = append(rows, a)
		}
	}
	return rows
}

// Items is the number of items with ids (their numbers are 0..Items()-1).
func (ex *Examples) Items() int { return len(ex.views) }

// HasItems reports whether some example has an item id with at least two views.
func (ex *Examples) HasItems() bool {
	for _, v := range ex.views {
		if len(v) > 1 {
			return true
		}
	}
	return false
}

// expand turns the drawn indices into a batch of the same size in which each drawn example
// with an item id brings up to K-1 other views of its item (drawn with rng): P items x K views,
// so that the triplet loss has positives. Examples without an item id stay on their own. No
// example appears twice; when the drawn ones run out (they brought their views already), random
// others fill the batch.
func (ex *Examples) expand(idx []int, rng *rand.Rand) []int {
	out := make([]int, 0, len(idx))
	used := make(map[int]bool, len(idx))
	add := func(i int) {
		out = append(out, i)
		used[i] = true
	}
	for _, i := range idx {
		if len(out) == len(idx) {
			break
		}
		if used[i] {
			continue
		}
		add(i)
		item := ex.list[i].Item
		if item < 0 {
			continue
		}
		var others []int
		for _, j := range ex.views[item] {
			if !used[j] {
				others = append(others, j)
			}
		}
		rng.Shuffle(len(others), func(a, b int) { others[a], others[b] = others[b], others[a] })
		for _, j := range others[:min(len(others), ex.cfg.ViewsPerItem-1, len(idx)-len(out))] {
			add(j)
		}
	}
	for len(out) < min(len(idx), len(ex.list)) {
		if i := rng.IntN(len(ex.list)); !used[i] {
			add(i)
		}
	}
	return out
}

// crop is one preprocessed example.
type crop struct {
	pixels []float32 // S x S x 3, normalised
	// toCrop maps the photo's pixels onto the crop's; width and height are the photo's.
	toCrop        imageio.Affine
	width, height int
	// The landmark labels in the crop's slots (swapped left/right when it was flipped), the
	// positions normalised to the crop.
	points  [fashion.NumLandmarks][2]float32
	labeled [fashion.NumLandmarks]bool
	vis     [fashion.NumLandmarks]dataset.Visibility
}

// load decodes, crops and (with rng) augments example i.
func (ex *Examples) load(i int, rng *rand.Rand) (*crop, error) {
	e := ex.list[i]
	img, _, err := imageio.DecodeFile(filepath.Join(e.Root, filepath.FromSlash(e.Sample.Image)), imageio.Limits{})
	if err != nil {
		return nil, err
	}
	g := ex.garment(i)
	b := img.Bounds()
	c := &crop{width: b.Dx(), height: b.Dy()}
	box := g.Box
	if !g.HasBox {
		box = [4]float32{0, 0, float32(c.width - 1), float32(c.height - 1)}
	}
	size := ex.cfg.Backbone.InputSize
	var out *image.RGBA
	flip := false
	if rng != nil {
		j := trainJitter
		j.Margin = ex.cfg.Margin
		out, c.toCrop = imageio.RandomCropAround(rng, img, box, j, size, size, fill)
		if rng.IntN(2) == 1 {
			var f imageio.Affine
			out, f = imageio.FlipH(out)
			c.toCrop = c.toCrop.Then(f)
			flip = true
		}
		out = trainColor.Apply(rng, out)
	} else {
		out, c.toCrop = imageio.CropAround(img, box, ex.cfg.Margin, size, size, fill)
	}
	if c.pixels, err = imageio.Tensor(nil, []image.Image{out}, Norm); err != nil {
		return nil, err
	}
	for s, p := range g.Landmarks {
		dst := s
		if flip {
			dst = int(fashion.Landmark(s).Mirror())
		}
		x, y := c.toCrop.Apply(p.X, p.Y)
		c.points[dst] = [2]float32{(x + 0.5) / float32(size), (y + 0.5) / float32(size)}
		c.labeled[dst], c.vis[dst] = p.Labeled, p.Vis
	}
	return c, nil
}

// loadAll loads the examples idx in parallel; with rng, each draws its augmentation from its
// own generator seeded from rng, so the result does not depend on scheduling.
func (ex *Examples) loadAll(idx []int, rng *rand.Rand) ([]*crop, error) {
	crops := make([]*crop, len(idx))
	seeds := make([]uint64, len(idx))
	if rng != nil {
		for k := range seeds {
			seeds[k] = rng.Uint64()
		}
	}
	if err := model.ParallelFor(len(idx), func(k int) error {
		var r *rand.Rand
		if rng != nil {
			r = rand.New(rand.NewPCG(seeds[k], uint64(k)))
		}
		var err error
		crops[k], err = ex.load(idx[k], r)
		return err
	}); err != nil {
		return nil, err
	}
	return crops, nil
}

// Batch implements train.Source. Inputs: images [B, S, S, 3], pooling points [B, 8, 2] and
// their mask [B, 8] (see Build). Labels: category [B] int32 (0-based, -1 unknown), attributes
// [B, A] float32 (+1, -1, 0 unknown), landmarks [B, 8, 2], landmark labeled [B, 8] (0/1),
// visibility class [B, 8] int32, item [B] int32 (unknown items get distinct negative numbers).
// A training batch (rng set) is made of P items x K views where item ids exist (see expand) and
// is augmented when Augment is set; a nil rng (evaluation) takes the examples as they are.
func (ex *Examples) Batch(idx []int, rng *rand.Rand) (inputs, labels []*tensors.Tensor, err error) {
	training := rng != nil
	if training {
		idx = ex.expand(idx, rng)
	}
	augment := rng
	if !ex.Augment {
		augment = nil
	}
	crops, err := ex.loadAll(idx, augment)
	if err != nil {
		return nil, nil, err
	}
	const nl = fashion.NumLandmarks
	n, size, na := len(idx), ex.cfg.Backbone.InputSize, ex.numAttributes
	pixels := make([]float32, 0, n*size*size*3)
	points := make([]float32, n*nl*2)
	labeled := make([]float32, n*nl)
	vis := make([]int32, n*nl)
	cats := make([]int32, n)
	attrs := make([]float32, n*na)
	items := make([]int32, n)
	for k, c := range crops {
		pixels = append(pixels, c.pixels...)
		g := ex.garment(idx[k])
		for s := range nl {
			copy(points[(k*nl+s)*2:], c.points[s][:])
			if c.labeled[s] {
				labeled[k*nl+s] = 1
				vis[k*nl+s] = ex.visClass(c.vis[s])
			}
		}
		cats[k] = int32(g.Category - 1)
		if len(g.Attributes) == na {
			for a, v := range g.Attributes {
				attrs[k*na+a] = float32(v)
			}
		}
		items[k] = ex.list[idx[k]].Item
		if items[k] < 0 {
			items[k] = int32(-1 - k)
		}
	}
	mask := make([]float32, n*nl)
	if ex.cfg.PoolAtTruth && training {
		copy(mask, labeled)
	}
	inputs = []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(pixels, n, size, size, 3),
		tensors.FromFlatDataAndDimensions(points, n, nl, 2),
		tensors.FromFlatDataAndDimensions(mask, n, nl),
	}
	labels = []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(cats, n),
		tensors.FromFlatDataAndDimensions(attrs, n, na),
		tensors.FromFlatDataAndDimensions(points, n, nl, 2),
		tensors.FromFlatDataAndDimensions(labeled, n, nl),
		tensors.FromFlatDataAndDimensions(vis, n, nl),
		tensors.FromFlatDataAndDimensions(items, n),
	}
	return inputs, labels, nil
}

// visClass maps a dataset visibility to the network's classes.
func (ex *Examples) visClass(v dataset.Visibility) int32 {
	if ex.cfg.VisibilityClasses == 2 {
		return min(int32(v), 1)
	}
	return min(max(int32(v), 0), 2)
}
