package eval

import (
	"fmt"
	"math"
	"sort"
)

// IoU is the intersection over union of two boxes x1, y1, x2, y2 in continuous coordinates (area
// (x2-x1)*(y2-y1), as COCO computes it); 0 when the union is empty.
func IoU(a, b [4]float32) float64 {
	iw := math.Min(float64(a[2]), float64(b[2])) - math.Max(float64(a[0]), float64(b[0]))
	ih := math.Min(float64(a[3]), float64(b[3])) - math.Max(float64(a[1]), float64(b[1]))
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := area(a) + area(b) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

func area(b [4]float32) float64 {
	return math.Max(float64(b[2]-b[0]), 0) * math.Max(float64(b[3]-b[1]), 0)
}

// Detection is one predicted box in image Image of class Class (0-based).
type Detection struct {
	Image int
	Class int
	Box   [4]float32
	Score float32
}

// GroundTruth is one true box.
type GroundTruth struct {
	Image int
	Class int
	Box   [4]float32
}

// COCO's evaluation constants: IoU thresholds .50:.05:.95, 101 recall points, and at most 100
// detections per image and class (the highest scored).
var cocoIoUs = []float64{0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95}

const (
	cocoRecallPoints = 101
	cocoMaxDets      = 100
)

// ClassAP is one class's average precision.
type ClassAP struct {
	AP50         Value `json:"ap50"`
	AP           Value `json:"ap"`
	GroundTruths int   `json:"ground_truths"`
	Detections   int   `json:"detections"`
}

// DetectionResult is the output of `atelier eval detector`: COCO-style mAP@0.5 and
// mAP@[.5:.95] over the classes that have ground truth, and each class's AP keyed by name
// (null for a class without ground truth, whose detections cannot be scored).
type DetectionResult struct {
	MAP50    Value              `json:"map50"`
	MAP      Value              `json:"map"`
	PerClass map[string]ClassAP `json:"per_class"`
}

// Detections evaluates boxes as COCO does for bounding boxes, without crowd or area ranges:
// per image and class the detections are taken by decreasing score (at most 100), each matched
// greedily to the unmatched ground truth it overlaps most with IoU >= the threshold; then all
// images' detections of the class are sorted by score, precision is made monotone and
// sampled at the 101 recall points 0, 0.01, ..., 1 (0 past the highest recall reached), and AP
// is the mean of those samples.
func Detections(dets []Detection, gts []GroundTruth, names []string) (DetectionResult, error) {
	nc := len(names)
	type key struct{ img, class int }
	gtBy := map[key][][4]float32{}
	dtBy := map[key][]Detection{}
	nGT, nDT := make([]int, nc), make([]int, nc)
	for i, g := range gts {
		if g.Class < 0 || g.Class >= nc {
			return DetectionResult{}, fmt.Errorf("detection: ground truth %d has class %d; want 0..%d", i, g.Class, nc-1)
		}
		k := key{g.Image, g.Class}
		gtBy[k] = append(gtBy[k], g.Box)
		nGT[g.Class]++
	}
	for i, d := range dets {
		if d.Class < 0 || d.Class >= nc {
			return DetectionResult{}, fmt.Errorf("detection: detection %d has class %d; want 0..%d", i, d.Class, nc-1)
		}
		k := key{d.Image, d.Class}
		dtBy[k] = append(dtBy[k], d)
		nDT[d.Class]++
	}
	// Images in increasing order, so that score ties across images resolve as in COCO.
	var keys []key
	for k, ds := range dtBy {
		sort.SliceStable(ds, func(a, b int) bool { return ds[a].Score > ds[b].Score })
		dtBy[k] = ds[:min(len(ds), cocoMaxDets)]
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].img < keys[b].img })

	res := DetectionResult{PerClass: make(map[string]ClassAP, nc)}
	var sum50, sum float64
	valid := 0
	for c, name := range names {
		ap := ClassAP{GroundTruths: nGT[c], Detections: nDT[c], AP50: Value(math.NaN()), AP: Value(math.NaN())}
		if nGT[c] > 0 {
			var apSum float64
			for ti, t := range cocoIoUs {
				var scores []float32
				var tps []bool
				for _, k := range keys {
					if k.class != c {
						continue
					}
					for i, m := range matchGreedy(dtBy[k], gtBy[k], t) {
						scores = append(scores, dtBy[k][i].Score)
						tps = append(tps, m >= 0)
					}
				}
				a := averagePrecision(scores, tps, nGT[c])
				if ti == 0 {
					ap.AP50 = Value(a)
				}
				apSum += a
			}
			ap.AP = Value(apSum / float64(len(cocoIoUs)))
			sum50 += float64(ap.AP50)
			sum += float64(ap.AP)
			valid++
		}
		res.PerClass[name] = ap
	}
	res.MAP50 = Value(sum50 / float64(valid))
	res.MAP = Value(sum / float64(valid))
	if valid == 0 {
		res.MAP50, res.MAP = Value(math.NaN()), Value(math.NaN())
	}
	return res, nil
}

// matchGreedy returns for each detection (sorted by decreasing score) the index of the ground
// truth it matches, or -1: the unmatched one of highest IoU, if that IoU is at least t (COCO caps
// t just below 1 so that a perfect box matches at t = 1).
func matchGreedy(dets []Detection, gts [][4]float32, t float64) []int {
	used := make([]bool, len(gts))
	match := make([]int, len(dets))
	for i, d := range dets {
		match[i] = -1
		best, bestIoU := -1, math.Min(t, 1-1e-10)
		for j, g := range gts {
			if used[j] {
				continue
			}
			if iou := IoU(d.Box, g); iou >= bestIoU {
				best, bestIoU = j, iou
			}
		}
		if best >= 0 {
			used[best] = true
			match[i] = best
		}
	}
	return match
}

// averagePrecision is COCO's 101-point interpolated AP of detections with the given scores and
// match flags against nGT ground truths.
func averagePrecision(scores []float32, tps []bool, nGT int) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	rc := make([]float64, len(idx))
	pr := make([]float64, len(idx))
	tp, fp := 0, 0
	for n, i := range idx {
		if tps[i] {
			tp++
		} else {
			fp++
		}
		rc[n] = float64(tp) / float64(nGT)
		pr[n] = float64(tp) / float64(tp+fp)
	}
	for n := len(pr) - 1; n > 0; n-- {
		pr[n-1] = math.Max(pr[n-1], pr[n])
	}
	var sum float64
	step := 1.0 / (cocoRecallPoints - 1)
	for r := range cocoRecallPoints {
		// Recall points as numpy's linspace(0, 1, 101) makes them (r*0.01, last exactly 1),
		// so that ties between recall and a point resolve as in COCO.
		thr := float64(r) * step
		if r == cocoRecallPoints-1 {
			thr = 1
		}
		// The first detection at which recall reaches thr (numpy's searchsorted, side left).
		if p := sort.SearchFloat64s(rc, thr); p < len(rc) {
			sum += pr[p]
		}
	}
	return sum / cocoRecallPoints
}
