package fashionnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gomlx/compute"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
)

// Calibration maps one attribute's logit z to the probability that a photo shows the attribute,
// 1/(1+exp(-(Slope*z+Intercept))) (Platt scaling), and holds its base rate: the share of the
// calibration garments labelled with it that show it.
type Calibration struct {
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	Rate      float64 `json:"rate"`
}

// calibrationPrior is the weight of the Gaussian prior that keeps each fit near the identity
// (slope 1, intercept 0): it only matters for attributes with few labels, and keeps the fit
// finite when the labels are separable.
const calibrationPrior = 1e-2

// FitCalibration fits one Calibration per attribute (column) to the logits of labelled garments:
// labels are +1 (shown), -1 (not shown) or 0 (unknown, left out). The slope and intercept
// maximise the logistic likelihood (Newton's method), and the rate is the share of positives
// among the known labels with one pseudo-count each way, so that it is never 0 or 1.
func FitCalibration(logits [][]float32, labels [][]int8) ([]Calibration, error) {
	if len(logits) != len(labels) {
		return nil, fmt.Errorf("calibration: %d rows of logits and %d of labels", len(logits), len(labels))
	}
	if len(logits) == 0 {
		return nil, errors.New("calibration: no garments")
	}
	na := len(logits[0])
	for i := range logits {
		if len(logits[i]) != na || len(labels[i]) != na {
			return nil, fmt.Errorf("calibration: garment %d has %d logits and %d labels, want %d", i, len(logits[i]), len(labels[i]), na)
		}
	}
	cal := make([]Calibration, na)
	var zs, ys []float64
	for a := range na {
		zs, ys = zs[:0], ys[:0]
		pos := 0.0
		for i, row := range labels {
			if row[a] != 0 {
				y := float64(max(row[a], 0))
				zs, ys, pos = append(zs, float64(logits[i][a])), append(ys, y), pos+y
			}
		}
		slope, intercept := fitLogistic(zs, ys)
		cal[a] = Calibration{Slope: slope, Intercept: intercept, Rate: (pos + 1) / (float64(len(ys)) + 2)}
	}
	return cal, nil
}

// fitLogistic returns the maximum a posteriori slope and intercept of P(y=1 | z) =
// 1/(1+exp(-(slope*z+intercept))) under the prior of calibrationPrior. The Newton steps are
// halved until the objective falls: when the labels are (nearly) separable the probabilities
// saturate, the likelihood's curvature vanishes, and a full step can overshoot by orders of
// magnitude, even to the wrong sign of the slope.
func fitLogistic(zs, ys []float64) (slope, intercept float64) {
	// Negative log posterior, with ln(1+e^x) computed without overflow.
	objective := func(s, b float64) float64 {
		f := calibrationPrior / 2 * ((s-1)*(s-1) + b*b)
		for i, z := range zs {
			x := s*z + b
			if ys[i] == 1 {
				x = -x
			}
			f += max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
		}
		return f
	}
	slope = 1
	f := objective(slope, intercept)
	for range 100 {
		// Gradient and Hessian of the negative log posterior.
		g0, g1 := calibrationPrior*(slope-1), calibrationPrior*intercept
		h00, h01, h11 := calibrationPrior, 0.0, calibrationPrior
		for i, z := range zs {
			p := 1 / (1 + math.Exp(-(slope*z + intercept)))
			d, w := p-ys[i], p*(1-p)
			g0 += d * z
			g1 += d
			h00 += w * z * z
			h01 += w * z
			h11 += w
		}
		det := h00*h11 - h01*h01
		d0, d1 := (h11*g0-h01*g1)/det, (h00*g1-h01*g0)/det
		// The Hessian is positive definite (the prior's part is), so the step descends.
		t := 1.0
		for ; t > 1e-12; t /= 2 {
			if ft := objective(slope-t*d0, intercept-t*d1); ft <= f {
				slope, intercept, f = slope-t*d0, intercept-t*d1, ft
				break
			}
		}
		if t <= 1e-12 || math.Abs(t*d0) < 1e-10 && math.Abs(t*d1) < 1e-10 {
			break
		}
	}
	return slope, intercept
}

// Calibrate fits the attribute calibration of the bundle's FashionNet on the garments of split
// (photos it did not train on: the validation split), sets it as the network's
// Config.AttributeCalibration in b (write it with b.Save) and returns the number of garments
// it was fitted on. Progress goes to log.
func Calibrate(backend compute.Backend, b *model.Bundle, sets []*dataset.Dataset, split dataset.Split, log io.Writer) (int, error) {
	if err := checkVocabulary(b, sets); err != nil {
		return 0, err
	}
	pred, err := NewPredictor(backend, b)
	if err != nil {
		return 0, err
	}
	defer pred.Close()
	if pred.numAttribs == 0 {
		return 0, errors.New("calibration: the network has no attributes")
	}
	ex := NewExamples(pred.cfg, attributeOutputs(pred.numAttribs), sets, split)
	if ex.Len() == 0 {
		return 0, fmt.Errorf("calibration: %w in the %s split", errNoGarments, split)
	}
	logf(log, "fashionnet: calibrating the attributes on the %d garments of the %s split", ex.Len(), split)
	preds, _, err := predictExamples(pred, ex)
	if err != nil {
		return 0, err
	}
	var logits [][]float32
	var labels [][]int8
	for i, p := range preds {
		if g := ex.garment(i); len(g.Attributes) == pred.numAttribs {
			logits = append(logits, p.AttributeLogits)
			labels = append(labels, g.Attributes)
		}
	}
	if len(labels) == 0 {
		return 0, fmt.Errorf("calibration: no garment of the %s split has attribute labels", split)
	}
	cfg := pred.cfg
	if cfg.AttributeCalibration, err = FitCalibration(logits, labels); err != nil {
		return 0, err
	}
	n, _ := b.Network(model.TaskFashionNet) // NewPredictor found it
	if n.Config, err = json.Marshal(cfg); err != nil {
		return 0, fmt.Errorf("encoding the fashionnet config: %w", err)
	}
	return len(labels), nil
}
