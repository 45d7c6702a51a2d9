package aligner

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

// Fill is the colour outside the photo in a crop: ImageNet's mean, which normalises to zero.
var Fill = color.RGBA{R: 124, G: 116, B: 104, A: 255}

// preMargin is the context kept around a garment when its photo is loaded: enough for the
// training jitter, so that the full photos need not stay in memory.
const preMargin = 0.35

// Jitter is the training crop jitter around the box.
var Jitter = imageio.CropJitter{Scale: 0.1, Shift: 0.05}

// Crops holds garments for the aligner: each one cut from its photo with a wide margin (the
// "pre-crop"), its box and landmarks in pre-crop pixels. It implements train.Source.
type Crops struct {
	Pre       []*image.RGBA
	Boxes     [][4]float32
	Landmarks [][fashion.NumLandmarks]dataset.Point
	// ToPre maps each original photo's pixels onto its pre-crop; Garments and Sizes are the
	// original annotations and photo sizes (width, height), for evaluation in photo pixels.
	ToPre    []imageio.Affine
	Garments []dataset.Garment
	Sizes    [][2]int
	Size     int
	Margin   float64
	Norm     imageio.Norm
	// Centroids give the pseudo-labels; nil labels every crop unknown.
	Centroids []Centroid
	// Augment turns on the crop jitter and horizontal flips (training).
	Augment bool
}

// NewCrops loads the garments (with a box and at least one labeled landmark) of a split of d,
// decoding the photos in parallel.
func NewCrops(d *dataset.Dataset, split dataset.Split, size int, margin float64) (*Crops, error) {
	type ref struct {
		s *dataset.Sample
		g dataset.Garment
	}
	var refs []ref
	for i := range d.Samples {
		s := &d.Samples[i]
		if s.Split != split {
			continue
		}
		for _, g := range s.Garments {
			if g.HasBox && labeledAny(g) {
				refs = append(refs, ref{s, g})
			}
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("no %s garments with a box and landmarks in %s", split, d.Root)
	}
	n := len(refs)
	c := &Crops{
		Pre: make([]*image.RGBA, n), Boxes: make([][4]float32, n), Landmarks: make([][fashion.NumLandmarks]dataset.Point, n),
		ToPre: make([]imageio.Affine, n), Garments: make([]dataset.Garment, n), Sizes: make([][2]int, n),
		Size: size, Margin: margin, Norm: imageio.ImageNetNorm,
	}
	pre := size + size/2
	if err := model.ParallelFor(n, func(i int) error {
		r := refs[i]
		img, _, err := imageio.DecodeFile(filepath.Join(d.Root, r.s.Image), imageio.Limits{})
		if err != nil {
			return err
		}
		b := img.Bounds()
		p, a := imageio.CropAround(img, r.g.Box, preMargin, pre, pre, Fill)
		c.Pre[i], c.ToPre[i], c.Garments[i], c.Sizes[i] = p, a, r.g, [2]int{b.Dx(), b.Dy()}
		c.Boxes[i] = a.Box(r.g.Box)
		for l, pt := range r.g.Landmarks {
			pt.X, pt.Y = a.Apply(pt.X, pt.Y)
			c.Landmarks[i][l] = pt
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("loading aligner images: %w", err)
	}
	return c, nil
}

func labeledAny(g dataset.Garment) bool {
	for _, p := range g.Landmarks {
		if p.Labeled {
			return true
		}
	}
	return false
}

// ShapeOf normalises landmarks to a box (see Shape).
func ShapeOf(pts [fashion.NumLandmarks]dataset.Point, box [4]float32) Shape {
	var s Shape
	w, h := max(box[2]-box[0], 1), max(box[3]-box[1], 1)
	for l, p := range pts {
		if p.Labeled {
			s.Points[l] = [2]float32{(p.X - box[0]) / w, (p.Y - box[1]) / h}
			s.Labeled[l] = true
		}
	}
	return s
}

// Shapes returns every garment's box-normalised configuration, for KMeans.
func (c *Crops) Shapes() []Shape {
	out := make([]Shape, len(c.Pre))
	for i := range out {
		out[i] = ShapeOf(c.Landmarks[i], c.Boxes[i])
	}
	return out
}

// Len implements train.Source.
func (c *Crops) Len() int { return len(c.Pre) }

// crop cuts garment i to the network's input: jittered and maybe flipped when augmenting (rng
// not nil). It returns the crop, the map from pre-crop pixels to it, and the landmarks and box in
// crop pixels (slots swapped when flipped).
func (c *Crops) crop(i int, rng *rand.Rand) (*image.RGBA, imageio.Affine, [fashion.NumLandmarks]dataset.Point, [4]float32) {
	var img *image.RGBA
	var a imageio.Affine
	if c.Augment && rng != nil {
		j := Jitter
		j.Margin = c.Margin
		img, a = imageio.RandomCropAround(rng, c.Pre[i], c.Boxes[i], j, c.Size, c.Size, Fill)
	} else {
		img, a = imageio.CropAround(c.Pre[i], c.Boxes[i], c.Margin, c.Size, c.Size, Fill)
	}
	flip := c.Augment && rng != nil && rng.IntN(2) == 1
	if flip {
		var f imageio.Affine
		img, f = imageio.FlipH(img)
		a = a.Then(f)
	}
	var pts [fashion.NumLandmarks]dataset.Point
	for l, p := range c.Landmarks[i] {
		p.X, p.Y = a.Apply(p.X, p.Y)
		if flip {
			pts[fashion.Landmark(l).Mirror()] = p
		} else {
			pts[l] = p
		}
	}
	return img, a, pts, a.Box(c.Boxes[i])
}

// Batch implements train.Source: inputs [crops B x S x S x 3]; labels [points B x 8 x 2 in
// crop-relative [0, 1], labeled B x 8 (1/0), visibility B x 8 (0 visible, 1 not), pseudo-label
// B (-1 without centroids)].
func (c *Crops) Batch(idx []int, rng *rand.Rand) ([]*tensors.Tensor, []*tensors.Tensor, error) {
	const nl = fashion.NumLandmarks
	b, s := len(idx), float32(c.Size)
	imgs := make([]image.Image, b)
	points := make([]float32, b*nl*2)
	labeled := make([]float32, b*nl)
	vis := make([]int32, b*nl)
	cluster := make([]int32, b)
	for k, i := range idx {
		img, _, pts, box := c.crop(i, rng)
		imgs[k] = img
		for l, p := range pts {
			points[(k*nl+l)*2], points[(k*nl+l)*2+1] = (p.X+0.5)/s, (p.Y+0.5)/s
			if p.Labeled {
				labeled[k*nl+l] = 1
			}
			if p.Vis != dataset.Visible {
				vis[k*nl+l] = 1
			}
		}
		cluster[k] = -1
		if c.Centroids != nil {
			cluster[k] = int32(Nearest(ShapeOf(pts, box), c.Centroids))
		}
	}
	data, err := imageio.Tensor(nil, imgs, c.Norm)
	if err != nil {
		return nil, nil, err
	}
	return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(data, b, c.Size, c.Size, 3)},
		[]*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(points, b, nl, 2),
			tensors.FromFlatDataAndDimensions(labeled, b, nl),
			tensors.FromFlatDataAndDimensions(vis, b, nl),
			tensors.FromValue(cluster),
		}, nil
}
