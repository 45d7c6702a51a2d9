package detector

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
)

// Fill is the colour of the letterbox borders: ImageNet's mean, which normalises to zero.
var Fill = color.RGBA{R: 124, G: 116, B: 104, A: 255}

// Class modes of ClassesFor.
const (
	ClassesTypes = "types"
	ClassesDF2   = "df2"
)

// ClassesFor returns the detector classes for a dataset format and a mode: "types" (upper,
// lower, full), "df2" (DeepFashion2's 13 classes, deepfashion2 data only), or "" for the
// format's natural choice (df2 for deepfashion2, types otherwise).
func ClassesFor(format, mode string) ([]Class, error) {
	if mode == "" {
		mode = ClassesTypes
		if format == dataset.FormatDeepFashion2 {
			mode = ClassesDF2
		}
	}
	switch {
	case mode == ClassesTypes:
		return TypeClasses(), nil
	case mode == ClassesDF2 && format == dataset.FormatDeepFashion2:
		return DF2Classes(), nil
	case mode == ClassesDF2:
		return nil, fmt.Errorf("detector classes %q need %s data, not %s", mode, dataset.FormatDeepFashion2, format)
	}
	return nil, fmt.Errorf("detector classes %q: want %q or %q", mode, ClassesTypes, ClassesDF2)
}

// classIndex returns a garment's class index into classes, or -1: its DeepFashion2 class (by
// category id, for deepfashion2 data, df2) when classes has it, otherwise its garment type.
func classIndex(classes []Class, g dataset.Garment, df2 bool) int {
	names := []string{g.Type.String()}
	if c, ok := fashion.DF2ClassByID(g.Category); ok && df2 {
		names = []string{c.Name, g.Type.String()}
	}
	for _, name := range names {
		for i, c := range classes {
			if c.Name == name {
				return i
			}
		}
	}
	return -1
}

// Box is a ground-truth box with its class index.
type Box struct {
	Box   [4]float32
	Class int
}

// Scenes is a detection set in memory: every image letterboxed to the network's input size,
// with its boxes in letterbox coordinates. It implements train.Source.
type Scenes struct {
	Images []*image.RGBA
	Boxes  [][]Box
	// ToInput maps each original image's pixels onto its letterboxed one.
	ToInput []imageio.Affine
	// Names are the images' paths relative to the dataset root.
	Names   []string
	Size    int
	Classes int
	Norm    imageio.Norm
	// Flip turns on random horizontal flips (training).
	Flip bool
	// Zoom, when above 0, zooms each training image in on a random square whose side is a
	// fraction in [1-Zoom, 1] of the image's (scale and translation augmentation).
	Zoom float64
}

// minKept is the share of a box's area that must stay inside a zoomed image for the box to be
// kept (clipped) as a target.
const minKept = 0.5

// NewScenes loads the images of a split of d (decoding them in parallel) and letterboxes them
// to size. Garments without a box or outside the classes are left out; images are kept even
// when they have no garment (they teach the background).
func NewScenes(d *dataset.Dataset, split dataset.Split, classes []Class, size int) (*Scenes, error) {
	var samples []*dataset.Sample
	for i := range d.Samples {
		if d.Samples[i].Split == split {
			samples = append(samples, &d.Samples[i])
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("no %s images in %s", split, d.Root)
	}
	df2 := d.Format == dataset.FormatDeepFashion2
	sc := &Scenes{
		Images: make([]*image.RGBA, len(samples)), Boxes: make([][]Box, len(samples)),
		ToInput: make([]imageio.Affine, len(samples)), Names: make([]string, len(samples)),
		Size: size, Classes: len(classes), Norm: imageio.ImageNetNorm,
	}
	if err := model.ParallelFor(len(samples), func(i int) error {
		s := samples[i]
		img, _, err := imageio.DecodeFile(filepath.Join(d.Root, s.Image), imageio.Limits{})
		if err != nil {
			return err
		}
		lb, a := imageio.Letterbox(img, size, Fill, nil)
		sc.Images[i], sc.ToInput[i], sc.Names[i] = lb, a, s.Image
		for _, g := range s.Garments {
			if c := classIndex(classes, g, df2); c >= 0 && g.HasBox {
				sc.Boxes[i] = append(sc.Boxes[i], Box{Box: a.Box(g.Box), Class: c})
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("loading detector images: %w", err)
	}
	return sc, nil
}

// Len implements train.Source.
func (sc *Scenes) Len() int { return len(sc.Images) }

// Batch implements train.Source: inputs [images B x S x S x 3]; labels [heat B x G x G x C,
// size B x G x G x 2, offset B x G x G x 2, mask B x G x G].
func (sc *Scenes) Batch(idx []int, rng *rand.Rand) ([]*tensors.Tensor, []*tensors.Tensor, error) {
	g, c, b := sc.Size/Stride, sc.Classes, len(idx)
	imgs := make([]image.Image, b)
	heat := make([]float32, b*g*g*c)
	size := make([]float32, b*g*g*2)
	offset := make([]float32, b*g*g*2)
	mask := make([]float32, b*g*g)
	for k, i := range idx {
		img, boxes := image.Image(sc.Images[i]), sc.Boxes[i]
		if sc.Flip && rng != nil && rng.IntN(2) == 1 {
			var a imageio.Affine
			img, a = imageio.FlipH(img)
			flipped := make([]Box, len(boxes))
			for j, bx := range boxes {
				flipped[j] = Box{Box: a.Box(bx.Box), Class: bx.Class}
			}
			boxes = flipped
		}
		if sc.Zoom > 0 && rng != nil {
			img, boxes = zoom(img, boxes, sc.Size, 1-sc.Zoom*rng.Float64(), rng)
		}
		imgs[k] = img
		drawTargets(heat[k*g*g*c:(k+1)*g*g*c], size[k*g*g*2:], offset[k*g*g*2:], mask[k*g*g:(k+1)*g*g], boxes, g, c)
	}
	data, err := imageio.Tensor(nil, imgs, sc.Norm)
	if err != nil {
		return nil, nil, err
	}
	return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(data, b, sc.Size, sc.Size, 3)},
		[]*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(heat, b, g, g, c),
			tensors.FromFlatDataAndDimensions(size, b, g, g, 2),
			tensors.FromFlatDataAndDimensions(offset, b, g, g, 2),
			tensors.FromFlatDataAndDimensions(mask, b, g, g),
		}, nil
}

// zoom crops a random square of side f*size from img, scales it back to size x size, and maps
// the boxes onto it: clipped to the image, and dropped when less than minKept of them remains.
func zoom(img image.Image, boxes []Box, size int, f float64, rng *rand.Rand) (image.Image, []Box) {
	side := max(1, int(math.Round(f*float64(size))))
	x0, y0 := rng.IntN(size-side+1), rng.IntN(size-side+1)
	crop, a := imageio.Crop(img, image.Rect(x0, y0, x0+side, y0+side), Fill)
	out, s := imageio.Resize(crop, size, size, nil)
	a = a.Then(s)
	lo, hi := float32(-0.5), float32(size)-0.5
	var kept []Box
	for _, b := range boxes {
		m := a.Box(b.Box)
		c := [4]float32{max(m[0], lo), max(m[1], lo), min(m[2], hi), min(m[3], hi)}
		full := (m[2] - m[0]) * (m[3] - m[1])
		if c[2] > c[0] && c[3] > c[1] && (c[2]-c[0])*(c[3]-c[1]) >= minKept*full {
			kept = append(kept, Box{Box: c, Class: b.Class})
		}
	}
	return out, kept
}

// drawTargets writes one image's CenterNet targets: per box an elliptical Gaussian on its class's
// heatmap (standard deviations 0.54/6 of the box's sides, as TTFNet; at least half a cell), 1 at
// the centre cell, where the size, offset and mask are set too.
func drawTargets(heat, size, offset, mask []float32, boxes []Box, g, c int) {
	for _, bx := range boxes {
		w, h := float64(bx.Box[2]-bx.Box[0]), float64(bx.Box[3]-bx.Box[1])
		if w <= 0 || h <= 0 {
			continue
		}
		// Continuous centre (pixel edges at integers), in cells.
		u := (float64(bx.Box[0]+bx.Box[2])/2 + 0.5) / Stride
		v := (float64(bx.Box[1]+bx.Box[3])/2 + 0.5) / Stride
		gx, gy := min(max(int(u), 0), g-1), min(max(int(v), 0), g-1)
		sx := max(0.54*w/Stride/6, 0.5)
		sy := max(0.54*h/Stride/6, 0.5)
		rx, ry := int(math.Ceil(3*sx)), int(math.Ceil(3*sy))
		for y := max(gy-ry, 0); y <= min(gy+ry, g-1); y++ {
			for x := max(gx-rx, 0); x <= min(gx+rx, g-1); x++ {
				dx, dy := float64(x-gx), float64(y-gy)
				val := float32(math.Exp(-dx*dx/(2*sx*sx) - dy*dy/(2*sy*sy)))
				j := (y*g+x)*c + bx.Class
				heat[j] = max(heat[j], val)
			}
		}
		heat[(gy*g+gx)*c+bx.Class] = 1
		k := (gy*g + gx) * 2
		size[k], size[k+1] = float32(math.Log(w/Stride)), float32(math.Log(h/Stride))
		offset[k], offset[k+1] = float32(u-float64(gx)), float32(v-float64(gy))
		mask[gy*g+gx] = 1
	}
}

// groundTruth returns the set's boxes in the original images' pixels, for eval.Detections.
func (sc *Scenes) groundTruth() []eval.GroundTruth {
	var out []eval.GroundTruth
	for i, boxes := range sc.Boxes {
		inv := sc.ToInput[i].Inverse()
		for _, b := range boxes {
			out = append(out, eval.GroundTruth{Image: i, Class: b.Class, Box: inv.Box(b.Box)})
		}
	}
	return out
}
