package detector

import (
	"fmt"
	"image"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
)

// maxBatch is the largest batch one graph call takes. Batches are padded to a power of two up
// to it, so that at most four graphs are ever compiled.
const maxBatch = 8

// Detector runs a trained detector. It is safe for concurrent use.
type Detector struct {
	cfg   Config
	norm  imageio.Norm
	types []fashion.GarmentType
	exec  *model.Exec
}

// New builds the detector on the variables of store (trained or loaded).
func New(backend compute.Backend, store *mlmodel.Store, cfg Config, norm imageio.Norm) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exec, err := model.NewExec(backend, store, func(scope *mlmodel.Scope, images *Node) []*Node {
		out := Forward(scope, cfg, images)
		return []*Node{Sigmoid(out.Heat), out.Size, out.Offset}
	})
	if err != nil {
		return nil, fmt.Errorf("building the detector: %w", err)
	}
	return &Detector{cfg: cfg, norm: norm, types: cfg.types(), exec: exec}, nil
}

// Load builds the detector of a bundle.
func Load(backend compute.Backend, b *model.Bundle) (*Detector, error) {
	var cfg Config
	net, store, err := b.LoadConfigured(model.TaskDetector, &cfg)
	if err != nil {
		return nil, err
	}
	return New(backend, store, cfg, net.Normalization.Norm())
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Type returns a class's garment type.
func (d *Detector) Type(class int) fashion.GarmentType { return d.types[class] }

// Close releases the compiled graphs.
func (d *Detector) Close() { d.exec.Close() }

// Detect finds the garments of each image; boxes are in the image's pixels.
func (d *Detector) Detect(imgs []image.Image, o DecodeOptions) ([][]Detection, error) {
	o = o.withDefaults()
	lbs := make([]image.Image, len(imgs))
	inv := make([]imageio.Affine, len(imgs))
	for i, img := range imgs {
		lb, a := imageio.Letterbox(img, d.cfg.InputSize(), Fill, nil)
		lbs[i], inv[i] = lb, a.Inverse()
	}
	cands, err := d.candidates(lbs, o.MinScore)
	if err != nil {
		return nil, err
	}
	out := make([][]Detection, len(imgs))
	for i, cs := range cands {
		for k := range cs {
			cs[k].Box = inv[i].Box(cs[k].Box)
		}
		out[i] = postprocess(cs, d.types, o)
	}
	return out, nil
}

// candidates runs the network on letterboxed images and returns each one's heatmap peaks, in
// letterbox coordinates, before NMS.
func (d *Detector) candidates(lbs []image.Image, minScore float32) ([][]Detection, error) {
	s, g, c := d.cfg.InputSize(), d.cfg.Grid(), len(d.cfg.Classes)
	out := make([][]Detection, 0, len(lbs))
	for start := 0; start < len(lbs); start += maxBatch {
		chunk := lbs[start:min(start+maxBatch, len(lbs))]
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		in, err := model.BatchTensor(chunk, d.norm, s, n)
		if err != nil {
			return nil, err
		}
		res, err := d.exec.Call(in)
		if err != nil {
			return nil, fmt.Errorf("running the detector: %w", err)
		}
		heat, size, offset := model.Take[float32](res[0]), model.Take[float32](res[1]), model.Take[float32](res[2])
		for k := range chunk {
			out = append(out, decodeMaps(heat[k*g*g*c:(k+1)*g*g*c], size[k*g*g*2:(k+1)*g*g*2],
				offset[k*g*g*2:(k+1)*g*g*2], g, c, minScore))
		}
	}
	return out, nil
}
