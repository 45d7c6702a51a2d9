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
	predStage // 1 once every branch trains (after Config.LandmarkSteps), else 0
	predNoise // [B, B] uniform noise, present with RandomMining
)

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
	return []Term{
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
				if len(preds) > predNoise {
					noise = preds[predNoise]
				}
				return losses.Triplet(preds[predEmbedding], labels[labelItem], cfg.TripletMargin, noise)
			}},
	}
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

// trainModel is the training graph: the network's outputs, the stage flag and, with random
// mining, the noise that picks the negatives.
func trainModel(cfg Config, numCategories, numAttributes int) train.ModelFn {
	return func(scope *mlmodel.Scope, _ any, inputs []*Node) []*Node {
		out := Build(scope, cfg, numCategories, numAttributes, inputs[0], inputs[1], inputs[2])
		g := inputs[0].Graph()
		step := optimizer.GetGlobalStepVar(scope).NodeValue(g)
		stage := ConvertDType(GreaterOrEqual(step, Scalar(g, step.DType(), cfg.LandmarkSteps)), dtypes.Float32)
		preds := []*Node{out.CategoryLogits, out.AttributeLogits, out.Landmarks, out.VisibilityLogits, out.Embedding, stage}
		if cfg.Mining == RandomMining {
			b := inputs[0].Shape().Dim(0)
			preds = append(preds, StopGradient(scope.RandomUniform(g, shapes.Make(dtypes.Float32, b, b))))
		}
		return preds
	}
}
