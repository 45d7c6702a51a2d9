package eval

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestTopKAccuracy(t *testing.T) {
	scores := [][]float32{
		{0.1, 0.5, 0.3, 0.2}, // label 2 is second: top-3, not top-1
		{0.9, 0.1, 0.1, 0.1}, // label 0 is first
		{0.2, 0.2, 0.2, 0.2}, // all tied: label 3 ranks after indices 0..2, so fourth
		{0.9, 0.1, 0.1, 0.1}, // unknown label: not counted
	}
	labels := []int{2, 0, 3, -1}
	res, err := Category(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !approx(float64(res.Top1), 1.0/3) || !approx(float64(res.Top3), 2.0/3) || res.Top5 != 1 || res.N != 3 {
		t.Errorf("Category = %+v, want top1 1/3, top3 2/3, top5 1, n 3", res)
	}
	for _, tc := range []struct {
		name   string
		scores [][]float32
		labels []int
	}{
		{"label past the scores", [][]float32{{1, 2}}, []int{2}},
		{"rows and labels differ", [][]float32{{1, 2}}, []int{0, 1}},
	} {
		if _, _, err := TopKAccuracy(tc.scores, tc.labels, []int{1}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestClassifier(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	res, err := Classifier([]int{0, 1, 1, 1, 0}, []int{0, 0, 1, 1, 2}, names)
	if err != nil {
		t.Fatal(err)
	}
	wantConf := [][]int{{1, 1, 0, 0}, {0, 2, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}}
	for i := range wantConf {
		for j := range wantConf[i] {
			if res.Confusion[i][j] != wantConf[i][j] {
				t.Fatalf("confusion %v, want %v", res.Confusion, wantConf)
			}
		}
	}
	if res.Accuracy != 0.6 || res.N != 5 {
		t.Errorf("accuracy %v over %d, want 0.6 over 5", res.Accuracy, res.N)
	}
	wantPer := map[string]float64{"a": 0.5, "b": 1, "c": 0}
	if len(res.PerClass) != len(wantPer) {
		t.Errorf("per class %v, want %v (no entry for a class without samples)", res.PerClass, wantPer)
	}
	for k, v := range wantPer {
		if res.PerClass[k] != v {
			t.Errorf("per class %s = %v, want %v", k, res.PerClass[k], v)
		}
	}
	js, _ := json.Marshal(res)
	for _, f := range []string{`"accuracy":0.6`, `"per_class":{`, `"confusion":[[1,1,0,0]`} {
		if !strings.Contains(string(js), f) {
			t.Errorf("JSON %s lacks %s", js, f)
		}
	}
	if _, err := Classifier([]int{4}, []int{0}, names); err == nil {
		t.Error("prediction out of range accepted")
	}
	if got := Argmax([][]float32{{1, 3, 3}, {-1, -2, -3}}); got[0] != 1 || got[1] != 0 {
		t.Errorf("Argmax = %v, want [1 0]", got)
	}
}

func TestTopConfusions(t *testing.T) {
	names := []string{"a", "b", "c"}
	// a: 4 samples, 2 taken for b, 1 for c; b: 2 samples, 1 taken for a; c: 1, right; one unknown.
	pred := []int{1, 1, 2, 0, 0, 1, 2, 0}
	labels := []int{0, 0, 0, 0, 1, 1, 2, -1}
	tests := []struct {
		n    int
		want []Confusion
	}{
		{3, []Confusion{{"a", "b", 2, 0.5}, {"a", "c", 1, 0.25}, {"b", "a", 1, 0.5}}},
		{1, []Confusion{{"a", "b", 2, 0.5}}},
		{0, []Confusion{}},
	}
	for _, tt := range tests {
		got, err := TopConfusions(pred, labels, names, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("n=%d: %v, want %v", tt.n, got, tt.want)
		}
	}
	if _, err := TopConfusions([]int{3}, []int{0}, names, 1); err == nil {
		t.Error("a prediction outside the names was accepted")
	}
	if _, err := TopConfusions([]int{0}, []int{0, 1}, names, 1); err == nil {
		t.Error("mismatched lengths were accepted")
	}
}

func TestAttributes(t *testing.T) {
	T, F, S := fashion.Texture, fashion.Fabric, fashion.Style
	var attrs []fashion.Attribute
	for i, a := range []struct {
		name string
		typ  fashion.AttributeType
	}{{"striped", T}, {"dotted", T}, {"knit", F}, {"denim", F}, {"red", S}, {"blue", S}} {
		attrs = append(attrs, fashion.Attribute{ID: i + 1, Name: a.name, Type: a.typ})
	}
	scores := [][]float32{
		{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}, // top-3 {0,1,2}, top-5 {0..4}
		{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, // top-3 {5,4,3}, top-5 {5..1}
		{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, // no positives: ignored
	}
	labels := [][]int8{
		{1, 0, 0, 1, -1, 1},   // positives 0, 3, 5: top-3 recalls 0; top-5 recalls 0, 3
		{1, 1, -1, -1, -1, 1}, // positives 0, 1, 5: top-3 recalls 5; top-5 recalls 1, 5
		{0, -1, -1, 0, 0, -1},
	}
	res, err := Attributes(scores, labels, attrs)
	if err != nil {
		t.Fatal(err)
	}
	// Per attribute (recalled at 3 / at 5 of positives): a0 1/2, 1/2; a1 0/1, 1/1; a3 0/1, 1/1;
	// a5 1/2, 1/2; a2 and a4 have no positives.
	type want struct {
		name       string
		got        RecallAtK
		top3, top5 float64
	}
	for _, w := range []want{
		{"overall", res.RecallAtK, (0.5 + 0 + 0 + 0.5) / 4, (0.5 + 1 + 1 + 0.5) / 4},
		{"pooled", res.Pooled, 2.0 / 6, 4.0 / 6},
		{"per image", res.PerImage, (1.0/3 + 1.0/3) / 2, (2.0/3 + 2.0/3) / 2},
		{"texture", res.ByType["texture"], (0.5 + 0) / 2, (0.5 + 1) / 2},
		{"fabric", res.ByType["fabric"], 0, 1},
		{"style", res.ByType["style"], 0.5, 0.5},
	} {
		if !approx(float64(w.got.Top3), w.top3) || !approx(float64(w.got.Top5), w.top5) {
			t.Errorf("%s recall = %v/%v, want %v/%v", w.name, w.got.Top3, w.got.Top5, w.top3, w.top5)
		}
	}
	wantPer := []AttributeRecall{
		{"striped", "texture", 2, RecallAtK{0.5, 0.5}}, {"dotted", "texture", 1, RecallAtK{0, 1}},
		{"denim", "fabric", 1, RecallAtK{0, 1}}, {"blue", "style", 2, RecallAtK{0.5, 0.5}},
	}
	if !slices.Equal(res.PerAttribute, wantPer) {
		t.Errorf("per attribute %+v, want %+v", res.PerAttribute, wantPer)
	}
	if len(res.ByType) != 3 || res.Images != 2 {
		t.Errorf("by_type has %d types (want 3: no shape or part positives), images %d (want 2)", len(res.ByType), res.Images)
	}
	js, _ := json.Marshal(res)
	for _, f := range []string{`"top3_recall":0.25`, `"top5_recall":0.75`, `"by_type":{`, `"texture":{"top3_recall"`, `"per_attribute":[{"name":"striped","type":"texture","positives":2,"top3_recall":0.5`} {
		if !strings.Contains(string(js), f) {
			t.Errorf("JSON %s lacks %s", js, f)
		}
	}
	if _, err := Attributes([][]float32{{1, 2}}, [][]int8{{1, 1}}, attrs); err == nil {
		t.Error("rows shorter than the vocabulary accepted")
	}
}

func TestTopIndices(t *testing.T) {
	for _, tc := range []struct {
		row  []float32
		k    int
		want []int
	}{
		{[]float32{1, 1, 1}, 2, []int{0, 1}},
		{[]float32{0.1, 0.9, 0.5, 0.9}, 3, []int{1, 3, 2}},
		{[]float32{3, 2}, 5, []int{0, 1}},
	} {
		got := topIndices(tc.row, tc.k)
		if len(got) != len(tc.want) {
			t.Errorf("topIndices(%v, %d) = %v, want %v", tc.row, tc.k, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("topIndices(%v, %d) = %v, want %v", tc.row, tc.k, got, tc.want)
				break
			}
		}
	}
}

// landmarkCases are two garments with hand-computed normalised errors:
// garment 1 (100x200): slot 0 off by (3, 4) px = (0.03, 0.02) -> sqrt(0.0013); slot 1 exact;
// slot 2 unlabeled. Garment 2 (200x100): slot 0 off by 10 px in y -> 0.1; slot 1 off by 20 px in
// x -> 0.1 but not visible; slot 2 exact.
func landmarkCases() []LandmarkCase {
	return []LandmarkCase{
		{
			Pred: [][2]float32{{10, 20}, {50, 50}, {90, 190}}, Truth: [][2]float32{{13, 24}, {50, 50}, {0, 0}},
			Labeled: []bool{true, true, false}, Visible: []bool{true, true, false},
			Width: 100, Height: 200, Variation: 1,
		},
		{
			Pred: [][2]float32{{0, 0}, {20, 0}, {0, 0}}, Truth: [][2]float32{{0, 10}, {0, 0}, {0, 0}},
			Labeled: []bool{true, true, true}, Visible: []bool{true, false, true},
			Width: 200, Height: 100, Variation: 3,
		},
	}
}

func TestLandmarks(t *testing.T) {
	e := math.Sqrt(0.0013)
	for _, tc := range []struct {
		name     string
		opt      LandmarkOptions
		ne       float64
		per      []float64
		rates    map[string]float64
		count    int
		checkKey string
	}{
		{"labeled", LandmarkOptions{Thresholds: []float64{0.02, 0.05, 0.1}},
			(e + 0.2) / 5, []float64{(e + 0.1) / 2, 0.05, 0}, map[string]float64{"0.02": 0.4, "0.05": 0.6, "0.1": 1}, 5, ""},
		{"visible only", LandmarkOptions{VisibleOnly: true},
			(e + 0.1) / 4, []float64{(e + 0.1) / 2, 0, 0}, map[string]float64{"0.02": 0.5, "0.04": 0.75, "0.1": 1}, 4, ""},
	} {
		res, err := Landmarks(landmarkCases(), tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if !approx(float64(res.NE), tc.ne) || res.Count != tc.count {
			t.Errorf("%s: NE %v over %d, want %v over %d", tc.name, res.NE, res.Count, tc.ne, tc.count)
		}
		for s, w := range tc.per {
			if !approx(float64(res.PerLandmark[s]), w) {
				t.Errorf("%s: slot %d NE %v, want %v", tc.name, s, res.PerLandmark[s], w)
			}
		}
		for k, w := range tc.rates {
			if got, ok := res.DetectionRate[k]; !ok || !approx(float64(got), w) {
				t.Errorf("%s: detection rate at %s = %v, want %v (rates %v)", tc.name, k, got, w, res.DetectionRate)
			}
		}
	}
	// A slot that no garment labels has no error: JSON null, not a number.
	cases := landmarkCases()
	for i := range cases {
		cases[i].Pred = append(cases[i].Pred, [2]float32{})
		cases[i].Truth = append(cases[i].Truth, [2]float32{})
		cases[i].Labeled = append(cases[i].Labeled, false)
		cases[i].Visible = append(cases[i].Visible, false)
	}
	res, err := Landmarks(cases, LandmarkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(js), `"per_landmark":[`) || !strings.HasSuffix(strings.Split(string(js), "]")[0], ",null") {
		t.Errorf("JSON %s (%v): want per_landmark ending in null", js, err)
	}
	bad := landmarkCases()
	bad[0].Width = 0
	if _, err := Landmarks(bad, LandmarkOptions{}); err == nil {
		t.Error("zero image width accepted")
	}
}

func TestAligner(t *testing.T) {
	stage1 := landmarkCases()
	stage1[0].Pred = [][2]float32{{10, 20}, {60, 50}, {90, 190}} // slot 1 now off by 0.1
	e := math.Sqrt(0.0013)
	res, err := Aligner([][]LandmarkCase{stage1, landmarkCases()}, LandmarkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NEByStage) != 2 || !approx(float64(res.NEByStage[0]), (e+0.3)/5) || !approx(float64(res.NEByStage[1]), (e+0.2)/5) {
		t.Errorf("NE by stage %v, want [%v %v]", res.NEByStage, (e+0.3)/5, (e+0.2)/5)
	}
	if res.NE != res.NEByStage[1] || len(res.PerLandmark) != 3 || len(res.DetectionRate) != len(DefaultThresholds) {
		t.Errorf("final section %+v does not match the last stage", res)
	}
	if len(res.ByVariation) != 2 || !approx(float64(res.ByVariation["normal"]), e/2) || !approx(float64(res.ByVariation["large_pose"]), 0.2/3) {
		t.Errorf("by variation %v, want normal %v, large_pose %v", res.ByVariation, e/2, 0.2/3)
	}
	js, _ := json.Marshal(res)
	for _, f := range []string{`"ne":`, `"ne_by_stage":[`, `"per_landmark":[`, `"by_variation":{`, `"detection_rate":{"0.02":`} {
		if !strings.Contains(string(js), f) {
			t.Errorf("JSON %s lacks %s", js, f)
		}
	}
	if _, err := Aligner([][]LandmarkCase{stage1, stage1[:1]}, LandmarkOptions{}); err == nil {
		t.Error("stages of different sizes accepted")
	}
}

func TestGarmentCase(t *testing.T) {
	var g dataset.Garment
	g.Variation = 2
	g.Landmarks[fashion.LeftCollar] = dataset.Point{X: 10, Y: 20, Vis: dataset.Visible, Labeled: true}
	g.Landmarks[fashion.RightCollar] = dataset.Point{X: 30, Y: 20, Vis: dataset.Occluded, Labeled: true}
	var pred [fashion.NumLandmarks][2]float32
	pred[fashion.LeftCollar] = [2]float32{20, 20}  // 0.1 of the width off
	pred[fashion.RightCollar] = [2]float32{30, 40} // 0.2 of the height off, occluded
	c := GarmentCase(pred, g, 100, 100)
	res, err := Landmarks([]LandmarkCase{c}, LandmarkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Count != 2 || !approx(float64(res.NE), 0.15) {
		t.Errorf("NE %v over %d landmarks, want 0.15 over 2", res.NE, res.Count)
	}
	vis, err := Landmarks([]LandmarkCase{c}, LandmarkOptions{VisibleOnly: true})
	if err != nil || vis.Count != 1 || !approx(float64(vis.NE), 0.1) {
		t.Errorf("visible-only NE %v over %d (%v), want 0.1 over 1", vis.NE, vis.Count, err)
	}
	if c.Variation != 2 || len(res.PerLandmark) != fashion.NumLandmarks {
		t.Errorf("variation %d, %d slots", c.Variation, len(res.PerLandmark))
	}
}

func TestFashionNetResultOmitsMissingSections(t *testing.T) {
	js, err := json.Marshal(FashionNetResult{Category: &CategoryResult{Top1: 0.5, Top3: 0.75, Top5: 1, N: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(js), `{"category":{"top1":0.5,"top3":0.75,"top5":1,"n":4}}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
}

// TestValueJSON round-trips metrics through JSON: an undefined one is null and reads back as NaN.
func TestValueJSON(t *testing.T) {
	for _, v := range []Value{0, 0.25, Value(math.NaN())} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got Value
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(float64(v)) != math.IsNaN(float64(got)) || (!math.IsNaN(float64(v)) && got != v) {
			t.Errorf("%v -> %s -> %v", v, data, got)
		}
	}
	if data, _ := json.Marshal(Value(math.Inf(1))); string(data) != "null" {
		t.Errorf("+Inf -> %s, want null", data)
	}
}
