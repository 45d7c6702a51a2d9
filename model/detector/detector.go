// Package detector finds garments in photos: a single-shot, anchor-free detector in the style of
// CenterNet ("Objects as Points") on the multi-scale features of nn.Backbone, class-wise
// non-maximum suppression, and a domain-knowledge pass of geometric consistency between garments
// worn by one person.
//
// # Why CenterNet
//
// Every head is a dense prediction on one stride-8 map: per class a centre heatmap, and a box size
// and sub-cell offset per cell. The whole network is convolutions, element-wise maths and one
// sigmoid, which the pure Go backend runs on its matrix-multiplication kernels (1x1 and im2col
// convolutions at low resolution). There are no anchors to match, no RoI pooling, no
// variable-sized gather, nothing data-dependent in the graph: decoding (peak finding, NMS, the
// geometric pass) is a few thousand comparisons in plain Go after one fixed-shape graph call.
// Anchor-based heads (SSD) would multiply the head outputs by the anchors per cell and need
// target assignment by IoU; FCOS needs several pyramid levels with their own heads. Garments are
// large relative to the image, so one stride-8 level with a small feature pyramid folded into it
// (strides 16 and 32 upsampled and added) covers their scales.
//
// # Domain knowledge
//
// Divide and conquer by garment type: each type (upper, lower, full body) has its own head tower
// that predicts the heatmaps of that type's classes (one class per type, or DeepFashion2's 13
// classes grouped by type). After decoding, Consistency rescoring applies two rules of how
// clothes are worn (see Consistency); Options.Geometry switches it off so that its effect on mAP
// can be measured.
package detector

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/ml/layers/activation"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/nn"
)

// Scope is the store scope of the detector's variables.
const Scope = "/detector"

// Stride is the stride of the output maps relative to the input image.
const Stride = 8

// heatPrior is the initial bias of the heatmap logits: sigmoid(-2.19) = 0.1, CenterNet's prior,
// which keeps the focal loss of the many background cells from swamping the first steps.
const heatPrior = -2.19

// Class is one detector class with the garment type its head belongs to.
type Class struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Config sizes the detector.
type Config struct {
	Backbone nn.BackboneConfig `json:"backbone"`
	// Neck is the channel width of the fused stride-8 map, Head that of each type's head tower.
	Neck int `json:"neck"`
	Head int `json:"head"`
	// Classes are the detected classes, in output order.
	Classes []Class `json:"classes"`
}

// TypeClasses are the three garment-type classes.
func TypeClasses() []Class {
	out := make([]Class, len(fashion.GarmentTypes))
	for i, t := range fashion.GarmentTypes {
		out[i] = Class{Name: t.String(), Type: t.String()}
	}
	return out
}

// DF2Classes are DeepFashion2's 13 classes.
func DF2Classes() []Class {
	out := make([]Class, len(fashion.DF2Classes))
	for i, c := range fashion.DF2Classes {
		out[i] = Class{Name: c.Name, Type: c.Type.String()}
	}
	return out
}

// DefaultConfig is the detector `atelier train detector` trains: a 256 px input.
func DefaultConfig(classes []Class) Config {
	return Config{
		Backbone: nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{32, 64, 128, 256}, Depths: [4]int{1, 1, 2, 1}, InputSize: 256},
		Neck:     64, Head: 32, Classes: classes,
	}
}

// InputSize is the side of the square (letterboxed) images the detector takes.
func (c Config) InputSize() int { return c.Backbone.InputSize }

// Grid is the side of the output maps.
func (c Config) Grid() int { return c.Backbone.InputSize / Stride }

// Validate reports a configuration that cannot be built.
func (c Config) Validate() error {
	if err := c.Backbone.Validate(); err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	if c.Neck < 1 || c.Head < 1 {
		return fmt.Errorf("detector: neck %d and head %d widths must be positive", c.Neck, c.Head)
	}
	if len(c.Classes) == 0 {
		return fmt.Errorf("detector: no classes")
	}
	for _, cl := range c.Classes {
		if _, err := fashion.ParseGarmentType(cl.Type); err != nil {
			return fmt.Errorf("detector class %q: %w", cl.Name, err)
		}
	}
	return nil
}

// types returns each class's garment type.
func (c Config) types() []fashion.GarmentType {
	out := make([]fashion.GarmentType, len(c.Classes))
	for i, cl := range c.Classes {
		out[i], _ = fashion.ParseGarmentType(cl.Type)
	}
	return out
}

// Outputs are the detector's raw maps, each [B, G, G, ...] on the stride-8 grid.
type Outputs struct {
	// Heat holds the centre-heatmap logits per class [B, G, G, C].
	Heat *Node
	// Size is log(box size / Stride) [B, G, G, 2] (width, height).
	Size *Node
	// Offset is the centre's position inside its cell [B, G, G, 2] (x, y), in cells.
	Offset *Node
}

// Forward builds the network on normalised images [B, S, S, 3]. Variables live under
// scope.In("detector").
func Forward(scope *mlmodel.Scope, cfg Config, images *Node) Outputs {
	scope = scope.In("detector")
	feats := nn.Backbone(scope, cfg.Backbone, images)
	// A small feature pyramid folded into stride 8: 1x1 projections of strides 8, 16 and 32,
	// upsampled by repetition and summed, then one 3x3 convolution.
	x := nn.Conv2D(scope.In("lateral8"), feats[1], cfg.Neck, 1).Done()
	x = Add(x, upsample(nn.Conv2D(scope.In("lateral16"), feats[2], cfg.Neck, 1).Done(), 2))
	x = Add(x, upsample(nn.Conv2D(scope.In("lateral32"), feats[3], cfg.Neck, 1).Done(), 4))
	x = convBNReLU(scope.In("fuse"), x, cfg.Neck, 3)

	// One head tower per garment type predicts the heatmaps of that type's classes.
	types := cfg.types()
	heat := make([]*Node, len(cfg.Classes))
	for _, t := range fashion.GarmentTypes {
		var idx []int
		for i, ct := range types {
			if ct == t {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		hs := scope.In("head_%s", t)
		h := convBNReLU(hs.In("tower"), x, cfg.Head, 3)
		logits := AddScalar(nn.Conv2D(hs.In("heat"), h, len(idx), 1).Done(), heatPrior)
		for k, i := range idx {
			heat[i] = Slice(logits, AxisRange(), AxisRange(), AxisRange(), AxisElem(k))
		}
	}
	box := convBNReLU(scope.In("box_tower"), x, cfg.Head, 3)
	return Outputs{
		Heat:   Concatenate(heat, -1),
		Size:   nn.Conv2D(scope.In("size"), box, 2, 1).Done(),
		Offset: Sigmoid(nn.Conv2D(scope.In("offset"), box, 2, 1).Done()),
	}
}

func convBNReLU(scope *mlmodel.Scope, x *Node, out, k int) *Node {
	return activation.Relu(nn.BatchNorm(scope, nn.Conv2D(scope, x, out, k).Bias(false).Done()))
}

// upsample repeats every cell of x [B, H, W, C] f x f times (nearest neighbour): a reshape and a
// broadcast, whose gradient is a reduction on every backend.
func upsample(x *Node, f int) *Node {
	b, h, w, c := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	y := BroadcastToDims(Reshape(x, b, h, 1, w, 1, c), b, h, f, w, f, c)
	return Reshape(y, b, h*f, w*f, c)
}

// Loss is the CenterNet loss: the penalty-reduced focal loss of the heatmaps against Gaussian
// targets heat [B, G, G, C] (1 at each centre), plus the L1 losses of size and offset at the
// centre cells (mask [B, G, G], 1 at centres), each normalised by the number of centres.
func Loss(out Outputs, heat, size, offset, mask *Node) *Node {
	p := Sigmoid(out.Heat)
	logP := Neg(Softplus(Neg(out.Heat)))
	log1mP := Neg(Softplus(out.Heat))
	pos := ConvertDType(GreaterOrEqual(heat, Scalar(heat.Graph(), heat.DType(), 0.999)), heat.DType())
	neg := OneMinus(pos)
	posTerm := Mul(pos, Mul(Square(OneMinus(p)), logP))
	negTerm := Mul(neg, Mul(Mul(Square(Square(OneMinus(heat))), Square(p)), log1mP))
	n := MaxScalar(ReduceAllSum(mask), 1)
	focal := Div(Neg(ReduceAllSum(Add(posTerm, negTerm))), n)
	m := InsertAxes(mask, -1)
	l1 := Add(ReduceAllSum(Mul(m, Abs(Sub(out.Size, size)))), ReduceAllSum(Mul(m, Abs(Sub(out.Offset, offset)))))
	return Add(focal, Div(l1, n))
}
