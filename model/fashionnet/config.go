package fashionnet

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/atelier-ml/atelier/nn"
)

// Attribute loss kinds (Config.AttributeLoss).
const (
	// RankingLoss is the seed's multi-label ranking loss (losses.Ranking).
	RankingLoss = "ranking"
	// WeightedBCE is binary cross-entropy weighted by label frequency (losses.WeightedBCE).
	WeightedBCE = "weighted-bce"
)

// Triplet mining kinds (Config.Mining).
const (
	// HardMining takes each anchor's closest negative in the batch.
	HardMining = "hard"
	// RandomMining takes a random negative, for the ablation.
	RandomMining = "random"
)

// Config is FashionNet's architecture and training objective. It is stored in the bundle, so a
// loaded network is rebuilt exactly as it was trained.
type Config struct {
	// Backbone is the shared convolutional trunk; its InputSize is the side of the square garment
	// crops the network takes.
	Backbone nn.BackboneConfig `json:"backbone"`
	// Margin is the context kept around a garment's box when it is cropped, as a fraction of
	// the box size on each side.
	Margin float64 `json:"margin"`
	// PoolStage is the backbone stage (0..3, strides 4, 8, 16, 32) whose features are sampled at
	// the landmarks; LandmarkStage the stage the landmark branch regresses from.
	PoolStage     int `json:"pool_stage"`
	LandmarkStage int `json:"landmark_stage"`
	// GlobalDim, LocalDim and FusedDim size the global branch, the landmark-pooled branch and
	// their fusion; LandmarkDim the hidden layer of the landmark branch.
	GlobalDim   int `json:"global_dim"`
	LocalDim    int `json:"local_dim"`
	FusedDim    int `json:"fused_dim"`
	LandmarkDim int `json:"landmark_dim"`
	// EmbeddingDim is the size of the L2-normalised identity embedding.
	EmbeddingDim int `json:"embedding_dim"`
	// VisibilityClasses is 3 (visible, occluded, truncated) or 2 (visible or not).
	VisibilityClasses int `json:"visibility_classes"`
	// LandmarkPooling turns the landmark-pooled branch on (off only for the ablation: the heads
	// then see the global features alone).
	LandmarkPooling bool `json:"landmark_pooling"`
	// PoolAtTruth pools at the labeled landmarks instead of the predicted ones while training.
	PoolAtTruth bool `json:"pool_at_truth"`

	// AttributeLoss is RankingLoss or WeightedBCE; Mining is HardMining or RandomMining.
	AttributeLoss string `json:"attribute_loss"`
	Mining        string `json:"mining"`
	// TripletMargin is the margin of the triplet loss, in embedding distance.
	TripletMargin float64 `json:"triplet_margin"`
	// Weights of the loss terms.
	Weights LossWeights `json:"weights"`
	// LandmarkSteps is the length of the first training stage, in which only the landmark branch
	// learns (the paper's schedule); 0 trains every branch jointly from the start.
	LandmarkSteps int `json:"landmark_steps"`
	// ViewsPerItem is K of the P items x K views batches built when the data has item ids.
	ViewsPerItem int `json:"views_per_item"`
	// AttributeAdjust (tau) corrects the attribute scores by the attributes' training priors
	// AttributePrior (set by Train): the reported logit is logit - tau*ln(prior). With tau = 1 an
	// attribute is ranked by how much the image raises its odds over its base rate, so rare
	// attributes are not buried under common ones: recall averaged over attributes, DeepFashion's
	// measure, rewards that (logit adjustment, Menon et al., ICLR 2021). 0 reports raw scores.
	AttributeAdjust float64   `json:"attribute_adjust,omitempty"`
	AttributePrior  []float32 `json:"attribute_prior,omitempty"`
	// AttributeCalibration, one per attribute when set (by Calibrate, on photos the network did
	// not train on), supersedes AttributeAdjust: an attribute is ranked by its calibrated
	// probability over its base rate, P(shown | photo) / Rate. Ranking a photo's attributes by
	// that maximises, in expectation, recall averaged over attributes.
	AttributeCalibration []Calibration `json:"attribute_calibration,omitempty"`
	// AttributeHidden, when positive, makes the attribute head a hidden layer of that width on
	// the fused features and the backbone's texture statistics (each channel's mean and standard
	// deviation at every stage: prints and weaves show in the early feature maps, which the
	// global branch sees only through the last one), its input batch-normalised. 0 is the
	// paper's single linear layer on the fused features. TrainAttributeHead fits such a head to
	// a trained network.
	AttributeHidden int `json:"attribute_hidden,omitempty"`
}

// LossWeights weighs the terms of the training loss.
type LossWeights struct {
	Landmarks  float64 `json:"landmarks"`
	Visibility float64 `json:"visibility"`
	Category   float64 `json:"category"`
	Attributes float64 `json:"attributes"`
	Triplet    float64 `json:"triplet"`
	// Identity weighs the optional item-classification loss, a cosine softmax over the training
	// items on the embedding: it spreads the items over the sphere, where the triplet loss alone
	// can let them collapse into a narrow cone. 0 turns it off.
	Identity float64 `json:"identity,omitempty"`
}

// DefaultConfig is the network `atelier train fashionnet` trains: 128x128 crops on the default
// backbone, pooling at stride 8, ranking loss, hard negatives, joint training.
func DefaultConfig() Config {
	return Config{
		Backbone:          nn.DefaultBackbone(),
		Margin:            0.1,
		PoolStage:         1,
		LandmarkStage:     2,
		GlobalDim:         512,
		LocalDim:          256,
		FusedDim:          512,
		LandmarkDim:       256,
		EmbeddingDim:      128,
		VisibilityClasses: 3,
		LandmarkPooling:   true,
		AttributeLoss:     RankingLoss,
		Mining:            HardMining,
		TripletMargin:     0.2,
		Weights:           LossWeights{Landmarks: 5, Visibility: 0.5, Category: 1, Attributes: 1, Triplet: 1},
		ViewsPerItem:      4,
		AttributeAdjust:   1,
	}
}

// Validate reports a configuration that cannot be built or trained.
func (c Config) Validate() error {
	if err := c.Backbone.Validate(); err != nil {
		return err
	}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Margin >= 0 && c.Margin <= 1, "crop margin %g: want 0..1", c.Margin)
	check(c.PoolStage >= 0 && c.PoolStage <= 3, "pool stage %d: want 0..3", c.PoolStage)
	check(c.LandmarkStage >= 0 && c.LandmarkStage <= 3, "landmark stage %d: want 0..3", c.LandmarkStage)
	check(c.GlobalDim > 0 && c.LocalDim > 0 && c.FusedDim > 0 && c.LandmarkDim > 0 && c.EmbeddingDim > 0,
		"layer sizes must be positive (global %d, local %d, fused %d, landmark %d, embedding %d)",
		c.GlobalDim, c.LocalDim, c.FusedDim, c.LandmarkDim, c.EmbeddingDim)
	check(c.VisibilityClasses == 2 || c.VisibilityClasses == 3, "visibility classes %d: want 2 or 3", c.VisibilityClasses)
	check(c.AttributeLoss == RankingLoss || c.AttributeLoss == WeightedBCE, "attribute loss %q: want %q or %q", c.AttributeLoss, RankingLoss, WeightedBCE)
	check(c.Mining == HardMining || c.Mining == RandomMining, "triplet mining %q: want %q or %q", c.Mining, HardMining, RandomMining)
	check(c.TripletMargin > 0, "triplet margin %g: want > 0", c.TripletMargin)
	w := c.Weights
	check(w.Landmarks >= 0 && w.Visibility >= 0 && w.Category >= 0 && w.Attributes >= 0 && w.Triplet >= 0 && w.Identity >= 0, "loss weights must not be negative: %+v", w)
	check(c.LandmarkSteps >= 0, "landmark stage steps %d: want >= 0", c.LandmarkSteps)
	check(c.AttributeAdjust >= 0, "attribute adjustment %g: want >= 0", c.AttributeAdjust)
	check(!slices.ContainsFunc(c.AttributePrior, func(p float32) bool { return !(p > 0 && p < 1) }), "attribute priors must lie in (0, 1)")
	check(!slices.ContainsFunc(c.AttributeCalibration, func(k Calibration) bool {
		return !(k.Rate > 0 && k.Rate < 1) || math.IsNaN(k.Slope) || math.IsInf(k.Slope, 0) || math.IsNaN(k.Intercept) || math.IsInf(k.Intercept, 0)
	}), "attribute calibrations must have finite slopes and intercepts and rates in (0, 1)")
	check(c.AttributeHidden >= 0, "attribute head width %d: want >= 0", c.AttributeHidden)
	check(c.ViewsPerItem >= 2, "views per item %d: want >= 2 (the triplet loss needs positives)", c.ViewsPerItem)
	if len(errs) > 0 {
		return fmt.Errorf("fashionnet config: %w", errors.Join(errs...))
	}
	return nil
}

// attributeOffsets are what the attribute logits lose to the prior correction (see
// Config.AttributeAdjust), or nil for none.
func (c Config) attributeOffsets() []float32 {
	if c.AttributeAdjust == 0 || len(c.AttributePrior) == 0 {
		return nil
	}
	off := make([]float32, len(c.AttributePrior))
	for a, p := range c.AttributePrior {
		off[a] = float32(c.AttributeAdjust * math.Log(float64(p)))
	}
	return off
}

// attributeScorer turns a crop's attribute logits into the scores a Prediction reports.
type attributeScorer struct {
	offsets []float32     // subtracted from the logits (the prior correction), or nil
	cal     []Calibration // supersedes offsets when set
	logRate []float64     // ln of each calibration's Rate
}

func (c Config) attributeScorer() attributeScorer {
	s := attributeScorer{offsets: c.attributeOffsets(), cal: c.AttributeCalibration}
	for _, k := range c.AttributeCalibration {
		s.logRate = append(s.logRate, math.Log(k.Rate))
	}
	return s
}

// scores returns the logistic of each logit after the calibration or the prior correction:
// with a calibration, the logistic of ln(P(shown | photo) / Rate), which is above 1/2 when the
// photo makes the attribute more likely than its base rate.
func (s attributeScorer) scores(logits []float32) []float32 {
	out := make([]float32, len(logits))
	for a, z := range logits {
		x := float64(z)
		switch {
		case len(s.cal) == len(logits):
			k := s.cal[a]
			x = logSigmoid(k.Slope*x+k.Intercept) - s.logRate[a]
		case len(s.offsets) == len(logits):
			x -= float64(s.offsets[a])
		}
		out[a] = float32(1 / (1 + math.Exp(-x)))
	}
	return out
}

// logSigmoid is ln(1/(1+e^-x)) without overflow.
func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}
