package fashionnet

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	mlmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/nn"
)

// Scope is the store scope of the network's variables.
const Scope = "/fashionnet"

// landmarkReduce is the channel count the landmark branch reduces its feature map to before
// flattening it: the flattened map keeps where things are, which a regression needs.
const landmarkReduce = 32

// Outputs are the network's outputs for a batch of B crops.
type Outputs struct {
	// CategoryLogits [B, categories], AttributeLogits [B, attributes].
	CategoryLogits, AttributeLogits *Node
	// Landmarks [B, 8, 2]: (x, y) in [0, 1] relative to the crop (pixel centres at (i+0.5)/size).
	Landmarks *Node
	// VisibilityLogits [B, 8, VisibilityClasses]; class 0 is "visible".
	VisibilityLogits *Node
	// Embedding [B, EmbeddingDim], L2-normalised.
	Embedding *Node
	// AttributeFeatures [B, D] are the attribute head's input (see Config.AttributeHidden).
	AttributeFeatures *Node
}

// Build builds FashionNet on images [B, S, S, 3] (normalised crops, S = cfg.Backbone.InputSize).
// givenPoints [B, 8, 2] and givenMask [B, 8] choose where features are pooled: slot l of crop b
// is pooled at givenPoints[b, l] where givenMask[b, l] is 1 (an aligner's landmarks, or the
// labels while training with PoolAtTruth), and at the predicted landmark where it is 0.
// Variables live under scope.In("fashionnet"). numAttributes must be at least 1.
func Build(scope *mlmodel.Scope, cfg Config, numCategories, numAttributes int, images, givenPoints, givenMask *Node) Outputs {
	scope = scope.In("fashionnet")
	out := trunk(scope, cfg, numCategories, images, givenPoints, givenMask)
	out.AttributeLogits = attributeHead(scope, cfg, out.AttributeFeatures, numAttributes)
	return out
}

// trunk builds every output of the network but the attribute logits, in the network's scope.
func trunk(scope *mlmodel.Scope, cfg Config, numCategories int, images, givenPoints, givenMask *Node) Outputs {
	batch := images.Shape().Dim(0)
	feats := nn.Backbone(scope, cfg.Backbone, images)
	var out Outputs

	// (b) Landmark branch: positions and visibility of the eight slots.
	lb := scope.In("landmarks")
	reduce := lb.In("reduce")
	x := activation.Relu(nn.BatchNorm(reduce, nn.Conv2D(reduce, feats[cfg.LandmarkStage], landmarkReduce, 1).Bias(false).Done()))
	x = activation.Relu(layers.Dense(lb.In("hidden"), Reshape(x, batch, -1), true, cfg.LandmarkDim))
	// Offsets from the crop centre, where an untrained network starts (zero-initialised).
	position := layers.Dense(lb.In("position").WithInitializer(initializer.Zero), x, true, fashion.NumLandmarks*2)
	out.Landmarks = AddScalar(Reshape(position, batch, fashion.NumLandmarks, 2), 0.5)
	out.VisibilityLogits = Reshape(layers.Dense(lb.In("visibility"), x, true, fashion.NumLandmarks*cfg.VisibilityClasses),
		batch, fashion.NumLandmarks, cfg.VisibilityClasses)

	// (a) Global branch.
	fused := activation.Relu(layers.Dense(scope.In("global"), nn.GlobalAvgPool(feats[3]), true, cfg.GlobalDim))

	// (c) Landmark pooling, gated by the probability that each landmark is visible. The
	// positions carry no gradient from here: the landmark branch learns them from its own loss.
	if cfg.LandmarkPooling {
		mask := InsertAxes(givenMask, -1)
		points := Add(Mul(mask, givenPoints), Mul(OneMinus(mask), StopGradient(out.Landmarks)))
		local := nn.SamplePoints(feats[cfg.PoolStage], points) // [B, 8, C]
		visible := Slice(Softmax(out.VisibilityLogits, -1), AxisRange(), AxisRange(), AxisElem(0))
		local = Reshape(Mul(local, visible), batch, -1)
		local = activation.Relu(layers.Dense(scope.In("local"), local, true, cfg.LocalDim))
		fused = Concatenate([]*Node{fused, local}, -1)
	}
	fused = activation.Relu(layers.Dense(scope.In("fused"), fused, true, cfg.FusedDim))

	out.CategoryLogits = layers.Dense(scope.In("category"), fused, true, numCategories)
	out.AttributeFeatures = fused
	if cfg.AttributeHidden > 0 {
		out.AttributeFeatures = Concatenate(append([]*Node{fused}, textureStats(feats)...), -1)
	}
	emb := layers.Dense(scope.In("embedding"), fused, true, cfg.EmbeddingDim)
	out.Embedding = Div(emb, Sqrt(MaxScalar(ReduceAndKeep(Square(emb), ReduceSum, -1), 1e-12)))
	return out
}

// attributeHead maps the attribute features [B, D] (Outputs.AttributeFeatures) to one logit per
// attribute, in the network's scope: "attributes" holds the linear head's variables and
// attributeHeadScope those of the head with a hidden layer.
func attributeHead(scope *mlmodel.Scope, cfg Config, x *Node, numAttributes int) *Node {
	if cfg.AttributeHidden == 0 {
		return layers.Dense(scope.In("attributes"), x, true, numAttributes)
	}
	scope = scope.In(attributeHeadScope)
	x = nn.BatchNorm(scope.In("input"), x)
	x = activation.Relu(layers.Dense(scope.In("hidden"), x, true, cfg.AttributeHidden))
	return layers.Dense(scope.In("output"), x, true, numAttributes)
}

// attributeHeadScope holds the variables of the attribute head with a hidden layer.
const attributeHeadScope = "attribute_head"

// textureStats are the mean and standard deviation of every channel of each feature map [B, H,
// W, C]: the first and second moments by which texture is recognised (and style transferred).
func textureStats(feats []*Node) []*Node {
	var out []*Node
	for _, f := range feats {
		mean := ReduceMean(f, 1, 2)
		variance := ReduceMean(Square(Sub(f, InsertAxes(mean, 1, 1))), 1, 2)
		out = append(out, mean, Sqrt(AddScalar(variance, 1e-6)))
	}
	return out
}
