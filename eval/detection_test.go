package eval

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestIoU(t *testing.T) {
	for _, tc := range []struct {
		a, b [4]float32
		want float64
	}{
		{[4]float32{0, 0, 10, 10}, [4]float32{5, 0, 15, 10}, 50.0 / 150},
		{[4]float32{0, 0, 10, 10}, [4]float32{0, 0, 10, 10}, 1},
		{[4]float32{0, 0, 10, 10}, [4]float32{10, 0, 20, 10}, 0}, // touching edges
		{[4]float32{0, 0, 10, 10}, [4]float32{20, 20, 30, 30}, 0},
		{[4]float32{0, 0, 10, 10}, [4]float32{2, 2, 4, 4}, 4.0 / 100},
		{[4]float32{0, 0, 0, 0}, [4]float32{0, 0, 0, 0}, 0}, // empty boxes
	} {
		if got := IoU(tc.a, tc.b); !approx(got, tc.want) {
			t.Errorf("IoU(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDetections(t *testing.T) {
	names := []string{"upper", "lower", "full", "none detected"}
	gts := []GroundTruth{
		{Image: 0, Class: 0, Box: [4]float32{0, 0, 10, 10}},
		{Image: 1, Class: 0, Box: [4]float32{20, 20, 30, 30}},
		{Image: 0, Class: 1, Box: [4]float32{0, 20, 10, 40}},
		{Image: 2, Class: 3, Box: [4]float32{0, 0, 5, 5}},
	}
	dets := []Detection{
		{Image: 0, Class: 0, Box: [4]float32{0, 0, 10, 10}, Score: 0.9},    // TP
		{Image: 0, Class: 0, Box: [4]float32{0, 0, 10, 10}, Score: 0.8},    // duplicate: FP
		{Image: 1, Class: 0, Box: [4]float32{20, 20, 30, 30}, Score: 0.7},  // TP
		{Image: 0, Class: 1, Box: [4]float32{0, 25, 10, 40}, Score: 0.6},   // IoU 0.75
		{Image: 1, Class: 2, Box: [4]float32{20, 20, 30, 30}, Score: 0.95}, // class without truth
	}
	res, err := Detections(dets, gts, names)
	if err != nil {
		t.Fatal(err)
	}
	// upper, at every IoU threshold: TP, FP, TP -> recall .5 .5 1, precision 1 .5 .67, monotone
	// precision 1 .67 .67; recall points 0..0.50 (51) sample 1, points 0.51..1 (50) sample 2/3.
	upper := (51 + 50*2.0/3) / 101
	// lower: IoU 0.75 matches at thresholds .50 .. .75 (AP 1, six of them), not above (AP 0).
	lowerAP := 6.0 / 10
	for _, tc := range []struct {
		name string
		got  Value
		want float64
	}{
		{"upper AP50", res.PerClass["upper"].AP50, upper},
		{"upper AP", res.PerClass["upper"].AP, upper},
		{"lower AP50", res.PerClass["lower"].AP50, 1},
		{"lower AP", res.PerClass["lower"].AP, lowerAP},
		{"never detected AP", res.PerClass["none detected"].AP, 0},
		{"mAP50", res.MAP50, (upper + 1 + 0) / 3},
		{"mAP", res.MAP, (upper + lowerAP + 0) / 3},
	} {
		if !approx(float64(tc.got), tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if full := res.PerClass["full"]; full.GroundTruths != 0 || full.Detections != 1 {
		t.Errorf("full = %+v, want 0 ground truths and 1 detection", full)
	}
	js, _ := json.Marshal(res)
	for _, f := range []string{`"map50":`, `"map":`, `"per_class":{`, `"full":{"ap50":null,"ap":null`} {
		if !strings.Contains(string(js), f) {
			t.Errorf("JSON %s lacks %s", js, f)
		}
	}
	if _, err := Detections([]Detection{{Class: 9}}, gts, names); err == nil {
		t.Error("detection of an unknown class accepted")
	}
}

func TestGreedyMatchPrefersHighestIoU(t *testing.T) {
	// The first detection overlaps B exactly and A by 2/3: it must take B, leaving A for the
	// second. Matching it to the first ground truth found (A) would make the second detection's
	// only candidate B at IoU 2/3, a false positive at thresholds above 0.65.
	gts := []GroundTruth{
		{Class: 0, Box: [4]float32{0, 0, 10, 10}},
		{Class: 0, Box: [4]float32{2, 0, 12, 10}},
	}
	dets := []Detection{
		{Class: 0, Box: [4]float32{2, 0, 12, 10}, Score: 0.9},
		{Class: 0, Box: [4]float32{0, 0, 10, 10}, Score: 0.8},
	}
	res, err := Detections(dets, gts, []string{"c"})
	if err != nil {
		t.Fatal(err)
	}
	if res.MAP != 1 {
		t.Errorf("mAP = %v, want 1", res.MAP)
	}
}

func TestAveragePrecisionRecallPoints(t *testing.T) {
	// 100 ground truths, 57 found first, then a false positive: recall reaches exactly 0.57.
	// COCO's recall points come from numpy's linspace(0, 1, 101), whose 58th point is 57*0.01 =
	// 0.5700000000000001, just above 0.57: that point is not reached, so AP is 57 points
	// (0 .. 0.56) of precision 1 out of 101.
	var scores []float32
	var tps []bool
	for i := range 58 {
		scores = append(scores, float32(100-i))
		tps = append(tps, i < 57)
	}
	if got, want := averagePrecision(scores, tps, 100), 57.0/101; !approx(got, want) {
		t.Errorf("AP = %v, want %v", got, want)
	}
}
