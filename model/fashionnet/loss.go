package fashionnet

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	mlmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/atelier-ml/atelier/model/losses"
	"github.com/atelier-ml/atelier/train"
)

// Positions of the training graph's predictions (trainModel) and labels (Examples.Batch).
const (
	predCategory = iota
	predAttributes
	predLandmarks
	predVisibility
	predEmbedding
	predStage    // 1 once every branch trains (after Config.LandmarkSteps), else 0
	predNoise    // [B, B] uniform noise with RandomMining, else a placeholder scalar
	predIdentity // [B, items] item-classification logits, present when Weights.Identity > 0
)

// identityScale multiplies the item classifier's cosines: logits within [-1, 1] could never
// make a confident softmax over thousands of items (NormFace, Wang et al. 2017).
const identityScale = 16

const (
	labelCategory = iota
	labelAttributes
	labelLandmarks
	labelLabeled
	labelVisibility
	labelItem
)

// Term is one term of the training loss.
type Term struct {
	// Name is the term's curve name ("loss_landmarks", ...).
	Name string
	// Landmark is true for the terms of the landmark branch, which train in every stage.
	Landmark bool
	weight   func(LossWeights) float64
	fn       func(labels, preds []*Node) *Node
}

// objective builds the loss terms for a configuration; posWeight and negWeight are the
// attribute weights of WeightedBCE (unused by the ranking loss).
func objective(cfg Config, posWeight, negWeight []float32) []Term {
	attr := func(labels, preds []*Node) *Node {
		return losses.Ranking(preds[predAttributes], labels[labelAttributes])
	}
	if cfg.AttributeLoss == WeightedBCE {
		attr = func(labels, preds []*Node) *Node {
			g := preds[predAttributes].Graph()
			return losses.WeightedBCE(preds[predAttributes], labels[labelAttributes], Const(g, posWeight), Const(g, negWeight))
		}
	}
	terms := []Term{
		{Name: "loss_landmarks", Landmark: true, weight: func(w LossWeights) float64 { return w.Landmarks },
			fn: func(labels, preds []*Node) *Node {
				return losses.Landmarks(preds[predLandmarks], labels[labelLandmarks], labels[labelLabeled], losses.L1)
			}},
		{Name: "loss_visibility", Landmark: true, weight: func(w LossWeights) float64 { return w.Visibility },
			fn: func(labels, preds []*Node) *Node {
				return losses.Visibility(preds[predVisibility], labels[labelVisibility], labels[labelLabeled])
			}},
		{Name: "loss_category", weight: func(w LossWeights) float64 { return w.Category },
			fn: func(labels, preds []*Node) *Node { return losses.Category(preds[predCategory], labels[labelCategory]) }},
		{Name: "loss_attributes", weight: func(w LossWeights) float64 { return w.Attributes }, fn: attr},
		{Name: "loss_triplet", weight: func(w LossWeights) float64 { return w.Triplet },
			fn: func(labels, preds []*Node) *Node {
				var noise *Node
				if cfg.Mining == RandomMining {
					noise = preds[predNoise]
				}
				return losses.Triplet(preds[predEmbedding], labels[labelItem], cfg.TripletMargin, noise)
			}},
	}
	if cfg.Weights.Identity > 0 {
		// Examples without an item carry negative ids, which the cross-entropy ignores.
		terms = append(terms, Term{Name: "loss_identity", weight: func(w LossWeights) float64 { return w.Identity },
			fn: func(labels, preds []*Node) *Node { return losses.Category(preds[predIdentity], labels[labelItem]) }})
	}
	return terms
}

// lossFn is the weighted sum of the terms; the terms of the heads count from the second stage.
func lossFn(cfg Config, terms []Term) train.LossFn {
	return func(labels, preds []*Node) *Node {
		var total *Node
		for _, t := range terms {
			w := t.weight(cfg.Weights)
			if w == 0 {
				continue
			}
			v := MulScalar(t.fn(labels, preds), w)
			if !t.Landmark {
				v = Mul(v, preds[predStage])
			}
			if total == nil {
				total = v
			} else {
				total = Add(total, v)
			}
		}
		if total == nil {
			return ScalarZero(preds[0].Graph(), preds[0].DType())
		}
		return total
	}
}

// termMetrics records each term, unweighted, as a per-step curve.
func termMetrics(terms []Term) []metric.Interface {
	ms := make([]metric.Interface, len(terms))
	for i, t := range terms {
		ms[i] = metric.NewBaseMetric(t.Name, t.Name, metric.LossMetricType,
			func(_ *mlmodel.Scope, labels, preds []*Node) *Node { return t.fn(labels, preds) }, nil)
	}
	return ms
}

// trainModel is the training graph: the network's outputs, the stage flag, with random mining
// the noise that picks the negatives and, with an identity weight, the item classifier's logits
// over numItems items. The item classifier lives outside the network's scope: only training
// uses it, and the bundle does not keep it.
func trainModel(cfg Config, numCategories, numAttributes, numItems int) train.ModelFn {
	return func(scope *mlmodel.Scope, _ any, inputs []*Node) []*Node {
		out := Build(scope, cfg, numCategories, numAttributes, inputs[0], inputs[1], inputs[2])
		g := inputs[0].Graph()
		step := optimizer.GetGlobalStepVar(scope).NodeValue(g)
		stage := ConvertDType(GreaterOrEqual(step, Scalar(g, step.DType(), cfg.LandmarkSteps)), dtypes.Float32)
		noise := ScalarZero(g, dtypes.Float32)
		if cfg.Mining == RandomMining {
			b := inputs[0].Shape().Dim(0)
			noise = StopGradient(scope.RandomUniform(g, shapes.Make(dtypes.Float32, b, b)))
		}
		preds := []*Node{out.CategoryLogits, out.AttributeLogits, out.Landmarks, out.VisibilityLogits, out.Embedding, stage, noise}
		if cfg.Weights.Identity > 0 {
			preds = append(preds, identityLogits(scope.In("identity"), out.Embedding, numItems))
		}
		return preds
	}
}

// identityLogits is a cosine classifier over numItems items: the scaled cosines between the
// (unit) embeddings [B, D] and one learned unit vector per item.
func identityLogits(scope *mlmodel.Scope, emb *Node, numItems int) *Node {
	w := scope.VariableWithShape("weights", shapes.Make(emb.DType(), emb.Shape().Dim(1), numItems)).NodeValue(emb.Graph())
	w = Div(w, Sqrt(MaxScalar(ReduceAndKeep(Square(w), ReduceSum, 0), 1e-12)))
	return MulScalar(MatMul(emb, w), identityScale)
}
