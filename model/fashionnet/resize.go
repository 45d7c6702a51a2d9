package fashionnet

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"
)

// landmarkHidden is the variable of the landmark branch's hidden layer, the one weight whose
// shape depends on the input size: it reads the reduced feature map flattened.
const landmarkHidden = Scope + "/landmarks/hidden/dense/weights"

// adaptInput lets weights trained on crops of another size initialise a network of cfg (a
// fine-tuning at a higher resolution, say): the landmark branch's hidden layer reads the
// flattened side x side x landmarkReduce map of stage cfg.LandmarkStage, so its weight grid is
// resampled bilinearly to the new side, as vision transformers resample their position
// embeddings, and scaled by the ratio of cell counts, so that a feature map that is the old one
// upsampled gives the same pre-activations. Every other weight is independent of the input size.
// A store that holds no such variable, or one of the right size, is left as it is.
func (c Config) adaptInput(store *mlmodel.Store) error {
	v := store.GetVariable(landmarkHidden)
	if v == nil {
		return nil
	}
	side := c.Backbone.InputSize / (4 << c.LandmarkStage)
	rows, cols := v.Shape().Dim(0), v.Shape().Dim(1)
	old := int(math.Round(math.Sqrt(float64(rows / landmarkReduce))))
	if old == side {
		return nil
	}
	if old*old*landmarkReduce != rows || v.Shape().Rank() != 2 {
		return fmt.Errorf("fashionnet: %s has shape %s, not a square grid of %d channels", landmarkHidden, v.Shape(), landmarkReduce)
	}
	t, err := v.Value()
	if err != nil {
		return fmt.Errorf("fashionnet: reading %s: %w", landmarkHidden, err)
	}
	w, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return fmt.Errorf("fashionnet: reading %s: %w", landmarkHidden, err)
	}
	resized := resizeGrid(w, old, side, landmarkReduce*cols)
	if err := store.DeleteVariable(landmarkHidden); err != nil {
		return err
	}
	_, err = store.CreateVariable(landmarkHidden, tensors.FromFlatDataAndDimensions(resized, side*side*landmarkReduce, cols))
	return err
}

// resizeGrid resamples w, a from x from grid of cells of depth values each (row-major: cell (i, j)
// holds w[(i*from+j)*depth:][:depth]), to a to x to grid, bilinearly with pixel centres aligned
// (source coordinate (k+0.5)*from/to-0.5, clamped to the grid), and scales it by from²/to².
func resizeGrid(w []float32, from, to, depth int) []float32 {
	type tap struct {
		lo, hi int
		f      float32 // weight of hi
	}
	taps := make([]tap, to)
	for k := range taps {
		s := min(max((float64(k)+0.5)*float64(from)/float64(to)-0.5, 0), float64(from-1))
		lo := int(s)
		taps[k] = tap{lo, min(lo+1, from-1), float32(s - float64(lo))}
	}
	scale := float32(from*from) / float32(to*to)
	out := make([]float32, to*to*depth)
	for i, ti := range taps {
		for j, tj := range taps {
			dst := out[(i*to+j)*depth:][:depth]
			for _, c := range [4]struct {
				r, q int
				f    float32
			}{
				{ti.lo, tj.lo, (1 - ti.f) * (1 - tj.f)}, {ti.lo, tj.hi, (1 - ti.f) * tj.f},
				{ti.hi, tj.lo, ti.f * (1 - tj.f)}, {ti.hi, tj.hi, ti.f * tj.f},
			} {
				if c.f == 0 {
					continue
				}
				src := w[(c.r*from+c.q)*depth:][:depth]
				for d := range dst {
					dst[d] += scale * c.f * src[d]
				}
			}
		}
	}
	return out
}
