package eval

import (
	"fmt"
	"math"
	"sort"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

// LandmarkCase is one garment's landmarks: predicted and true positions (pixels) per slot, which
// slots the truth labels and which of those are visible, the size of the image the positions are
// measured in, and the FLD variation type (0 when unknown).
type LandmarkCase struct {
	Pred, Truth   [][2]float32
	Labeled       []bool
	Visible       []bool
	Width, Height float32
	Variation     int
}

// DefaultThresholds are the normalised distances at which detection rates are reported: the
// range DFA's detection-rate curves span, in steps of 0.02.
var DefaultThresholds = []float64{0.02, 0.04, 0.06, 0.08, 0.10}

// LandmarkOptions choose which landmarks count and where detection rates are taken.
type LandmarkOptions struct {
	// VisibleOnly counts only labeled landmarks that are visible, as several public
	// re-implementations do; by default every labeled landmark counts (the FLD protocol's "mean
	// over labeled landmarks").
	VisibleOnly bool
	// Thresholds defaults to DefaultThresholds.
	Thresholds []float64
}

// LandmarkResult is the landmarks section of `atelier eval fashionnet`.
//
// The normalised error of one landmark is the L2 distance between prediction and truth after
// dividing x differences by the image width and y differences by its height. NE is its mean
// over every counted landmark of every garment; PerLandmark is the mean per slot (null for a
// slot never counted); DetectionRate maps a threshold ("0.05") to the share of counted landmarks
// whose normalised error is at most that threshold.
type LandmarkResult struct {
	NE            Value            `json:"ne"`
	PerLandmark   []Value          `json:"per_landmark"`
	DetectionRate map[string]Value `json:"detection_rate"`
	Count         int              `json:"count"`
}

// normErrors returns every counted landmark's normalised error with its slot.
func normErrors(cases []LandmarkCase, opt LandmarkOptions) (errs []float64, slots []int, nslots int, err error) {
	for i, c := range cases {
		n := len(c.Truth)
		if len(c.Pred) != n || len(c.Labeled) != n || (opt.VisibleOnly && len(c.Visible) != n) {
			return nil, nil, 0, fmt.Errorf("landmarks: case %d has %d predictions, %d truths, %d labeled and %d visible flags",
				i, len(c.Pred), n, len(c.Labeled), len(c.Visible))
		}
		if c.Width <= 0 || c.Height <= 0 {
			return nil, nil, 0, fmt.Errorf("landmarks: case %d has image size %vx%v", i, c.Width, c.Height)
		}
		nslots = max(nslots, n)
		for s := range n {
			if !c.Labeled[s] || (opt.VisibleOnly && !c.Visible[s]) {
				continue
			}
			dx := float64(c.Pred[s][0]-c.Truth[s][0]) / float64(c.Width)
			dy := float64(c.Pred[s][1]-c.Truth[s][1]) / float64(c.Height)
			errs = append(errs, math.Hypot(dx, dy))
			slots = append(slots, s)
		}
	}
	return errs, slots, nslots, nil
}

// Landmarks computes NE, per-slot NE and detection rates.
func Landmarks(cases []LandmarkCase, opt LandmarkOptions) (LandmarkResult, error) {
	errs, slots, nslots, err := normErrors(cases, opt)
	if err != nil {
		return LandmarkResult{}, err
	}
	th := opt.Thresholds
	if th == nil {
		th = DefaultThresholds
	}
	sum := make([]float64, nslots)
	cnt := make([]int, nslots)
	total := 0.0
	for i, e := range errs {
		sum[slots[i]] += e
		cnt[slots[i]]++
		total += e
	}
	res := LandmarkResult{
		NE:            Value(total / float64(len(errs))),
		PerLandmark:   make([]Value, nslots),
		DetectionRate: make(map[string]Value, len(th)),
		Count:         len(errs),
	}
	for s := range nslots {
		res.PerLandmark[s] = Value(sum[s] / float64(cnt[s]))
	}
	sorted := append([]float64(nil), errs...)
	sort.Float64s(sorted)
	for _, t := range th {
		within := sort.Search(len(sorted), func(i int) bool { return sorted[i] > t })
		res.DetectionRate[thresholdKey(t)] = Value(ratio(within, len(sorted)))
	}
	return res, nil
}

// VariationNames are FLD's variation types by id (1-5).
var VariationNames = map[int]string{1: "normal", 2: "medium_pose", 3: "large_pose", 4: "medium_zoom_in", 5: "large_zoom_in"}

// AlignerResult is the output of `atelier eval aligner`: the final stage's NE, per-slot NE and
// detection rates, the NE after each cascade stage, and the final NE per FLD variation type.
type AlignerResult struct {
	NE            Value            `json:"ne"`
	NEByStage     []Value          `json:"ne_by_stage"`
	PerLandmark   []Value          `json:"per_landmark"`
	ByVariation   map[string]Value `json:"by_variation"`
	DetectionRate map[string]Value `json:"detection_rate"`
	Count         int              `json:"count"`
}

// Aligner evaluates a cascade: stages[s] holds every garment's case with stage s's predictions
// (the same garments and truths in every stage, the last stage being the output).
func Aligner(stages [][]LandmarkCase, opt LandmarkOptions) (AlignerResult, error) {
	if len(stages) == 0 {
		return AlignerResult{}, fmt.Errorf("aligner: no stages")
	}
	var res AlignerResult
	for s, cases := range stages {
		if len(cases) != len(stages[0]) {
			return AlignerResult{}, fmt.Errorf("aligner: stage %d has %d garments, stage 0 has %d", s+1, len(cases), len(stages[0]))
		}
		r, err := Landmarks(cases, opt)
		if err != nil {
			return AlignerResult{}, fmt.Errorf("aligner stage %d: %w", s+1, err)
		}
		res.NEByStage = append(res.NEByStage, r.NE)
		res.NE, res.PerLandmark, res.DetectionRate, res.Count = r.NE, r.PerLandmark, r.DetectionRate, r.Count
	}
	final := stages[len(stages)-1]
	byVar := map[int][]LandmarkCase{}
	for _, c := range final {
		if _, ok := VariationNames[c.Variation]; ok {
			byVar[c.Variation] = append(byVar[c.Variation], c)
		}
	}
	res.ByVariation = make(map[string]Value, len(byVar))
	for v, cases := range byVar {
		r, err := Landmarks(cases, opt)
		if err != nil {
			return AlignerResult{}, err
		}
		res.ByVariation[VariationNames[v]] = r.NE
	}
	return res, nil
}

// GarmentCase builds a garment's LandmarkCase from its predicted positions of the eight
// slots (pixels of the same width x height image as the labels): a slot counts as labeled when
// the dataset labels it, and as visible when its visibility is dataset.Visible.
func GarmentCase(pred [fashion.NumLandmarks][2]float32, g dataset.Garment, width, height int) LandmarkCase {
	c := LandmarkCase{
		Pred:      pred[:],
		Truth:     make([][2]float32, fashion.NumLandmarks),
		Labeled:   make([]bool, fashion.NumLandmarks),
		Visible:   make([]bool, fashion.NumLandmarks),
		Width:     float32(width),
		Height:    float32(height),
		Variation: g.Variation,
	}
	for s, p := range g.Landmarks {
		c.Truth[s] = [2]float32{p.X, p.Y}
		c.Labeled[s] = p.Labeled
		c.Visible[s] = p.Labeled && p.Vis == dataset.Visible
	}
	return c
}
