package aligner

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

// batch is the number of crops per graph call; smaller calls are padded, so that one graph
// serves every call.
const batch = 8

// Alignment is one garment's landmarks in the pixels of the photo it was cut from.
type Alignment struct {
	// Points are the final (last stage's) landmarks; Stages holds every stage's.
	Points [fashion.NumLandmarks][2]float32
	Stages [Stages][fashion.NumLandmarks][2]float32
	// Visible is the visibility decision, VisScore the probability of being visible.
	Visible  [fashion.NumLandmarks]bool
	VisScore [fashion.NumLandmarks]float32
	// Cluster is the predicted pseudo-label.
	Cluster int
}

// Aligner runs a trained aligner. It is safe for concurrent use.
type Aligner struct {
	cfg  Config
	norm imageio.Norm
	exec *model.Exec
}

// New builds the aligner on the variables of store.
func New(backend compute.Backend, store *mlmodel.Store, cfg Config, norm imageio.Norm) (*Aligner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exec, err := model.NewExec(backend, store, func(scope *mlmodel.Scope, images *Node) []*Node {
		out := Forward(scope, cfg, images)
		pts := Stack(out.Points, 1) // [B, Stages, 8, 2]
		visible := Slice(Softmax(out.Vis, -1), AxisRange(), AxisRange(), AxisElem(0))
		return []*Node{pts, Reshape(visible, -1, fashion.NumLandmarks), ArgMax(out.Cluster, -1)}
	})
	if err != nil {
		return nil, fmt.Errorf("building the aligner: %w", err)
	}
	return &Aligner{cfg: cfg, norm: norm, exec: exec}, nil
}

// Load builds the aligner of a bundle.
func Load(backend compute.Backend, b *model.Bundle) (*Aligner, error) {
	var cfg Config
	net, store, err := b.LoadConfigured(model.TaskAligner, &cfg)
	if err != nil {
		return nil, err
	}
	return New(backend, store, cfg, net.Normalization.Norm())
}

// Config returns the aligner's configuration.
func (a *Aligner) Config() Config { return a.cfg }

// Close releases the compiled graphs.
func (a *Aligner) Close() { a.exec.Close() }

// Align places the landmarks of the garments in boxes (x1, y1, x2, y2 pixels) of img.
func (a *Aligner) Align(img image.Image, boxes [][4]float32) ([]Alignment, error) {
	crops := make([]image.Image, len(boxes))
	maps := make([]imageio.Affine, len(boxes))
	for i, b := range boxes {
		crops[i], maps[i] = imageio.CropAround(img, b, a.cfg.Margin, a.cfg.InputSize(), a.cfg.InputSize(), Fill)
	}
	return a.alignCrops(crops, maps)
}

// alignCrops runs the network on crops of the input size; toCrop[i] maps photo pixels onto
// crop i, and its inverse takes the landmarks back to the photo.
func (a *Aligner) alignCrops(crops []image.Image, toCrop []imageio.Affine) ([]Alignment, error) {
	const nl = fashion.NumLandmarks
	s := a.cfg.InputSize()
	out := make([]Alignment, 0, len(crops))
	for start := 0; start < len(crops); start += batch {
		chunk := crops[start:min(start+batch, len(crops))]
		in, err := model.BatchTensor(chunk, a.norm, s, batch)
		if err != nil {
			return nil, err
		}
		res, err := a.exec.Call(in)
		if err != nil {
			return nil, fmt.Errorf("running the aligner: %w", err)
		}
		pts, vis, cl := model.Take[float32](res[0]), model.Take[float32](res[1]), model.Take[int32](res[2])
		for k := range chunk {
			inv := toCrop[start+k].Inverse()
			var al Alignment
			for st := range Stages {
				for l := range nl {
					j := ((k*Stages+st)*nl + l) * 2
					// Crop-relative [0, 1] to crop pixels (centre convention), then to the photo.
					x, y := inv.Apply(pts[j]*float32(s)-0.5, pts[j+1]*float32(s)-0.5)
					al.Stages[st][l] = [2]float32{x, y}
				}
			}
			al.Points = al.Stages[Stages-1]
			for l := range nl {
				al.VisScore[l] = vis[k*nl+l]
				al.Visible[l] = al.VisScore[l] >= 0.5
			}
			al.Cluster = int(cl[k])
			out = append(out, al)
		}
	}
	return out, nil
}
