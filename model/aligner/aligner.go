// Package aligner places a garment's eight fashion landmarks with a cascade in the manner of Deep
// Fashion Alignment (DFA; Liu et al., ECCV 2016):
//
//   - Stage 1 looks at the whole garment crop (the stride-16 feature map reduced to a few
//     channels and flattened, so that it keeps where things are, with the pooled stride-32
//     features) and regresses the eight landmarks and their visibility, and, as an auxiliary task, classifies the crop's
//     pseudo-label: the cluster of its landmark configuration among Config.Clusters groups found
//     by k-means on the training set's box-normalised configurations (KMeans). The pseudo-label
//     splits the large variation of poses and scales into groups that the regression can tell
//     apart.
//   - Stages 2 and 3 refine every landmark from local features: the backbone's feature maps
//     (stride 8 for stage 2, stride 4 for stage 3) are sampled bilinearly (nn.SamplePoints) at
//     the previous estimate and at four points around it, and a small network shared by the
//     landmarks regresses each one's offset from its samples, its previous estimate, its
//     identity and the pseudo-label distribution.
//
// Unlike DFA's three separately trained networks, the stages share one backbone pass and train
// jointly (the previous estimate enters a stage without gradient), which costs one backbone per
// crop on the CPU. Landmarks are (x, y) in [0, 1] relative to the crop (pixel centres at
// (i+0.5)/size, nn.SamplePoints' convention).
package aligner

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	mlmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/model/losses"
	"github.com/atelier-ml/atelier/nn"
)

// Scope is the store scope of the aligner's variables.
const Scope = "/aligner"

// Stages is the number of cascade stages.
const Stages = 3

// VisClasses is the number of visibility classes: visible, not visible (occluded or truncated).
const VisClasses = 2

// Config sizes the aligner and holds what training found (the pseudo-label centroids).
type Config struct {
	Backbone nn.BackboneConfig `json:"backbone"`
	// Hidden is the width of the dense layers of each stage.
	Hidden int `json:"hidden"`
	// Clusters is the number of pseudo-labels; Centroids their configurations (set by training).
	Clusters  int        `json:"clusters"`
	Centroids []Centroid `json:"centroids,omitempty"`
	// Margin is the context kept around the garment's box in the crop, as a fraction of its size
	// on each side.
	Margin float64 `json:"margin"`
	// Step is the largest offset (fraction of the crop) that a refinement stage can apply.
	Step float64 `json:"step"`
}

// DefaultConfig is the aligner `atelier train aligner` trains: 96 px crops.
func DefaultConfig() Config {
	return Config{
		Backbone: nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{32, 64, 128, 256}, Depths: [4]int{1, 1, 2, 1}, InputSize: 96},
		Hidden:   256, Clusters: 8, Margin: 0.1, Step: 0.15,
	}
}

// InputSize is the side of the square crops.
func (c Config) InputSize() int { return c.Backbone.InputSize }

// Validate reports a configuration that cannot be built.
func (c Config) Validate() error {
	if err := c.Backbone.Validate(); err != nil {
		return fmt.Errorf("aligner: %w", err)
	}
	if c.Hidden < 1 || c.Clusters < 1 || c.Margin < 0 || c.Step <= 0 {
		return fmt.Errorf("aligner config: hidden %d and clusters %d must be positive, margin %v >= 0, step %v > 0",
			c.Hidden, c.Clusters, c.Margin, c.Step)
	}
	if c.Centroids != nil && len(c.Centroids) != c.Clusters {
		return fmt.Errorf("aligner config: %d centroids for %d clusters", len(c.Centroids), c.Clusters)
	}
	return nil
}

// Outputs are the aligner's predictions.
type Outputs struct {
	// Points holds each stage's landmarks [B, 8, 2] in crop-relative [0, 1]; the last is final.
	Points []*Node
	// Vis is the visibility logits [B, 8, VisClasses]; Cluster the pseudo-label logits [B, K].
	Vis, Cluster *Node
}

// Forward builds the cascade on normalised crops [B, S, S, 3]. Variables live under
// scope.In("aligner").
func Forward(scope *mlmodel.Scope, cfg Config, images *Node) Outputs {
	scope = scope.In("aligner")
	b := images.Shape().Dim(0)
	const nl = fashion.NumLandmarks
	feats := nn.Backbone(scope, cfg.Backbone, images)

	s1 := scope.In("stage1")
	reduce := s1.In("reduce")
	spatial := activation.Relu(nn.BatchNorm(reduce, nn.Conv2D(reduce, feats[2], stage1Reduce, 1).Bias(false).Done()))
	whole := Concatenate([]*Node{nn.GlobalAvgPool(feats[3]), Reshape(spatial, b, -1)}, -1)
	h := activation.Relu(layers.Dense(s1.In("hidden"), whole, true, cfg.Hidden))
	pts := Sigmoid(Reshape(layers.Dense(s1.In("points"), h, true, nl*2), b, nl, 2))
	vis := Reshape(layers.Dense(s1.In("visibility"), h, true, nl*VisClasses), b, nl, VisClasses)
	cluster := layers.Dense(s1.In("cluster"), h, true, cfg.Clusters)
	out := Outputs{Points: []*Node{pts}, Vis: vis, Cluster: cluster}

	// Refinement: one small network, shared by the eight landmarks, reads the features around a
	// landmark's previous estimate (with the estimate, the landmark's identity and the
	// pseudo-label distribution) and moves it. Sharing it gives every weight eight times the
	// training signal of a per-landmark head.
	prior := BroadcastToDims(InsertAxes(StopGradient(Softmax(cluster)), 1), b, nl, cfg.Clusters)
	identity := BroadcastToDims(InsertAxes(Const(images.Graph(), eye(nl)), 0), b, nl, nl)
	for s, feat := range []*Node{feats[1], feats[0]} { // stride 8, then stride 4
		st := scope.In("stage%d", s+2)
		prev := StopGradient(pts)
		c := feat.Shape().Dim(-1)
		local := nn.SamplePoints(feat, around(prev, 1/float64(feat.Shape().Dim(1)))) // [B, 5*8, C], shift-major
		local = Reshape(TransposeAllAxes(Reshape(local, b, aroundPoints, nl, c), 0, 2, 1, 3), b, nl, aroundPoints*c)
		x := nn.LayerNorm(st, Concatenate([]*Node{local, prev, identity, prior}, -1))
		x = activation.Relu(layers.Dense(st.In("hidden"), x, true, cfg.Hidden))
		// Zero-initialised offsets: a stage starts as the identity and can only learn to improve.
		delta := MulScalar(Tanh(layers.Dense(st.In("offset").WithInitializer(initializer.Zero), x, true, 2)), cfg.Step)
		pts = Add(prev, delta)
		out.Points = append(out.Points, pts)
	}
	return out
}

// stage1Reduce is the channel count stage 1 reduces the stride-16 map to before flattening it:
// globally pooled features alone left stage 1 at NE 0.080 on synthetic FLD (64 px crops).
const stage1Reduce = 32

// eye is the n x n identity matrix.
func eye(n int) [][]float32 {
	m := make([][]float32, n)
	for i := range m {
		m[i] = make([]float32, n)
		m[i][i] = 1
	}
	return m
}

// aroundPoints is the number of points around returns per input point.
const aroundPoints = 5

// around returns, for points [B, P, 2], each point and the four points d away from it
// horizontally and vertically: [B, 5P, 2], all P centres first, then each shift's P points.
func around(p *Node, d float64) *Node {
	g := p.Graph()
	shift := func(dx, dy float64) *Node {
		return Add(p, Reshape(Const(g, []float32{float32(dx), float32(dy)}), 1, 1, 2))
	}
	return Concatenate([]*Node{p, shift(-d, 0), shift(d, 0), shift(0, -d), shift(0, d)}, 1)
}

// landmarkWeight scales the landmark regression terms (mean L1 distances in crop fractions,
// ~0.01-0.1) against the cross-entropies (~0.1-2).
const landmarkWeight = 10

// Loss sums, over the stages, the L1 landmark loss on labeled slots, plus the visibility and
// pseudo-label cross-entropies. points [B, 8, 2], labeled [B, 8] (1/0), vis [B, 8] int32 classes,
// cluster [B] int32 (negative: unknown).
func Loss(out Outputs, points, labeled, vis, cluster *Node) *Node {
	total := losses.Visibility(out.Vis, vis, labeled)
	total = Add(total, losses.Category(out.Cluster, cluster))
	for _, p := range out.Points {
		total = Add(total, MulScalar(losses.Landmarks(p, points, labeled, losses.L1), landmarkWeight))
	}
	return total
}
