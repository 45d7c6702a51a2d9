package fashionnet

import (
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // part of the error; "" for a valid config
	}{
		{"default", func(*Config) {}, ""},
		{"tiny", func(c *Config) { *c = tinyConfig() }, ""},
		{"attribute loss", func(c *Config) { c.AttributeLoss = "hinge" }, "attribute loss"},
		{"mining", func(c *Config) { c.Mining = "semi" }, "mining"},
		{"visibility", func(c *Config) { c.VisibilityClasses = 4 }, "visibility"},
		{"views", func(c *Config) { c.ViewsPerItem = 1 }, "views"},
		{"pool stage", func(c *Config) { c.PoolStage = 4 }, "pool stage"},
		{"weights", func(c *Config) { c.Weights.Triplet = -1 }, "weights"},
		{"input size", func(c *Config) { c.Backbone.InputSize = 100 }, "input size"},
		{"identity weight", func(c *Config) { c.Weights.Identity = -0.5 }, "weights"},
		{"adjustment", func(c *Config) { c.AttributeAdjust = -1 }, "adjustment"},
		{"prior", func(c *Config) { c.AttributePrior = []float32{0.5, 1} }, "priors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one about %q", err, tt.want)
			}
		})
	}
}

// TestAttributeOffsets checks the prior correction on a hand-computed case: with tau 2 and
// priors 0.5 and 0.1, the logits lose 2 ln 0.5 = -1.386 and 2 ln 0.1 = -4.605.
func TestAttributeOffsets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AttributeAdjust, cfg.AttributePrior = 2, []float32{0.5, 0.1}
	got := cfg.attributeOffsets()
	for a, want := range []float64{-1.3862944, -4.6051702} {
		if math.Abs(float64(got[a])-want) > 1e-5 {
			t.Errorf("offset %d: %v, want %v", a, got[a], want)
		}
	}
	cfg.AttributeAdjust = 0
	if off := cfg.attributeOffsets(); off != nil {
		t.Errorf("tau 0: offsets %v, want none", off)
	}
}

// TestExpand checks the P items x K views batches: same size, no repeats, and every example
// of an item with several views has a positive beside it.
func TestExpand(t *testing.T) {
	cfg := tinyConfig()
	cfg.ViewsPerItem = 3
	var samples []dataset.Sample
	for i := range 30 {
		g := dataset.Garment{}
		if i < 24 {
			g.ItemID = string(rune('a' + i/4)) // 6 items of 4 views; the last 6 have no id
		}
		samples = append(samples, dataset.Sample{Image: "x", Split: dataset.Train, Garments: []dataset.Garment{g}})
	}
	ex := NewExamples(cfg, 1, []*dataset.Dataset{{Samples: samples}}, dataset.Train)
	if !ex.HasItems() {
		t.Fatal("HasItems is false")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20 {
		idx := rng.Perm(ex.Len())[:12]
		got := ex.expand(idx, rng)
		if len(got) != len(idx) {
			t.Fatalf("expand gave %d examples for %d", len(got), len(idx))
		}
		seen := map[int]bool{}
		perItem := map[int32]int{}
		for _, i := range got {
			if seen[i] {
				t.Fatalf("example %d twice in %v", i, got)
			}
			seen[i] = true
			if item := ex.At(i).Item; item >= 0 {
				perItem[item]++
			}
		}
		// Only the last item may be cut short by the end of the batch.
		short := 0
		for _, n := range perItem {
			if n < 2 {
				short++
			}
		}
		if short > 1 {
			t.Errorf("batch %v has %d items without a positive", got, short)
		}
	}
}

// TestFlipSwapsLandmarks checks that a flipped training crop swaps left and right slots: the
// left collar stays on the same side of the right collar, and carries the other one's
// visibility.
func TestFlipSwapsLandmarks(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	f, err := os.Create(filepath.Join(dir, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	g := dataset.Garment{Box: [4]float32{10, 10, 90, 70}, HasBox: true}
	g.Landmarks[fashion.LeftCollar] = dataset.Point{X: 30, Y: 20, Vis: dataset.Visible, Labeled: true}
	g.Landmarks[fashion.RightCollar] = dataset.Point{X: 70, Y: 20, Vis: dataset.Occluded, Labeled: true}
	d := &dataset.Dataset{Root: dir, Samples: []dataset.Sample{{Image: "a.png", Split: dataset.Train, Garments: []dataset.Garment{g}}}}
	ex := NewExamples(tinyConfig(), 1, []*dataset.Dataset{d}, dataset.Train)
	flips := 0
	for seed := range uint64(16) {
		c, err := ex.load(0, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		l, r := c.points[fashion.LeftCollar], c.points[fashion.RightCollar]
		if !(l[0] < r[0]) {
			t.Errorf("seed %d: left collar x %.3f not left of right collar x %.3f", seed, l[0], r[0])
		}
		if c.vis[fashion.LeftCollar] == dataset.Occluded {
			flips++
		}
		if !c.labeled[fashion.LeftCollar] || !c.labeled[fashion.RightCollar] || c.labeled[fashion.LeftHem] {
			t.Errorf("seed %d: labeled slots %v", seed, c.labeled)
		}
	}
	if flips == 0 || flips == 16 {
		t.Errorf("%d of 16 crops flipped, want some", flips)
	}

	// Without augmentation the crop maps the labels exactly.
	c, err := ex.load(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	back := toPhoto(c.points, c.toCrop, tinyConfig().Backbone.InputSize)
	if d := math.Hypot(float64(back[0][0]-30), float64(back[0][1]-20)); d > 1e-3 {
		t.Errorf("left collar maps back to %v, want (30, 20)", back[0])
	}
}

// TestPredictor checks the inference API on the trained fixture: a crop's outputs do not depend
// on the other crops of the call, are well formed, and landmarks given from outside change
// what is pooled.
func TestPredictor(t *testing.T) {
	f := trained(t)
	b, err := model.Load(f.out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPredictor(goBackend(t), b)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var crops []Crop
	for _, s := range f.sets[0].Samples[:3] {
		img, _, err := imageio.DecodeFile(filepath.Join(f.sets[0].Root, s.Image), imageio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := p.CropGarment(img, s.Garments[0].Box)
		crops = append(crops, Crop{Image: c})
	}
	all, err := p.Predict(crops)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range crops {
		one, err := p.Predict([]Crop{c})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(one[0].Embedding, all[i].Embedding); d > 1e-4 {
			t.Errorf("crop %d: embedding differs by %g alone and in a batch", i, d)
		}
		if d := maxDiff(one[0].Category, all[i].Category); d > 1e-4 {
			t.Errorf("crop %d: category differs by %g alone and in a batch", i, d)
		}
	}
	pr := all[0]
	if len(pr.Category) != len(b.Vocabulary.Categories) || len(pr.Attributes) != len(b.Vocabulary.Attributes) ||
		len(pr.Embedding) != tinyConfig().EmbeddingDim || len(pr.Visibility[0]) != 3 {
		t.Errorf("prediction sizes: %d categories, %d attributes, %d embedding, %d visibility classes",
			len(pr.Category), len(pr.Attributes), len(pr.Embedding), len(pr.Visibility[0]))
	}
	norm, sum := 0.0, 0.0
	for _, v := range pr.Embedding {
		norm += float64(v) * float64(v)
	}
	for _, v := range pr.Category {
		sum += float64(v)
	}
	if math.Abs(norm-1) > 1e-4 || math.Abs(sum-1) > 1e-4 {
		t.Errorf("embedding norm² %g and category probabilities sum %g, want 1", norm, sum)
	}
	var corners [fashion.NumLandmarks][2]float32
	for l := range corners {
		corners[l] = [2]float32{float32(l % 2), float32(l / 4)}
	}
	given, err := p.Predict([]Crop{{Image: crops[0].Image, Landmarks: &corners}})
	if err != nil {
		t.Fatal(err)
	}
	if maxDiff(given[0].Embedding, pr.Embedding) == 0 {
		t.Error("pooling at given landmarks changed nothing")
	}
	if _, err := p.Predict([]Crop{{}}); err == nil {
		t.Error("a crop without an image was accepted")
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestStagedLoss checks the training objective's weighting: in the first stage only the
// landmark terms count; afterwards every term counts with its weight.
func TestStagedLoss(t *testing.T) {
	cfg := tinyConfig()
	cfg.Weights = LossWeights{Landmarks: 2, Visibility: 0.5, Category: 3, Attributes: 0.25, Triplet: 4, Identity: 1.5}
	terms := objective(cfg, nil, nil)
	loss := lossFn(cfg, terms)
	const b, na, nc = 4, 5, 6
	rng := rand.New(rand.NewPCG(7, 7))
	randoms := func(n int, scale float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = scale * (2*rng.Float32() - 1)
		}
		return v
	}
	attrs := make([]float32, b*na)
	for i := range attrs {
		attrs[i] = float32(i%3 - 1)
	}
	labeled := make([]float32, b*8)
	for i := range labeled {
		labeled[i] = float32(i % 2)
	}
	for _, stage := range []float32{0, 1} {
		var want float64
		got := graph.MustExecOnceN(goBackend(t), func(g *graph.Graph) []*graph.Node {
			labels := []*graph.Node{
				graph.Const(g, []int32{0, 2, -1, 5}),
				graph.Reshape(graph.Const(g, attrs), b, na),
				graph.Reshape(graph.Const(g, randoms(b*16, 1)), b, 8, 2),
				graph.Reshape(graph.Const(g, labeled), b, 8),
				graph.Reshape(graph.Const(g, []int32{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1}), b, 8),
				graph.Const(g, []int32{1, 1, 2, 2}),
			}
			emb := graph.Reshape(graph.Const(g, randoms(b*3, 1)), b, 3)
			preds := []*graph.Node{
				graph.Reshape(graph.Const(g, randoms(b*nc, 2)), b, nc),
				graph.Reshape(graph.Const(g, randoms(b*na, 2)), b, na),
				graph.Reshape(graph.Const(g, randoms(b*16, 1)), b, 8, 2),
				graph.Reshape(graph.Const(g, randoms(b*8*3, 2)), b, 8, 3),
				graph.Div(emb, graph.Sqrt(graph.ReduceAndKeep(graph.Square(emb), graph.ReduceSum, -1))),
				graph.Const(g, stage),
				graph.ScalarZero(g, dtypes.Float32), // no noise: hard mining
				graph.Reshape(graph.Const(g, randoms(b*3, 2)), b, 3),
			}
			out := []*graph.Node{loss(labels, preds)}
			for _, term := range terms {
				out = append(out, term.fn(labels, preds))
			}
			return out
		})
		for i, term := range terms {
			v := float64(got[i+1].Value().(float32))
			if v <= 0 {
				t.Fatalf("%s is %g on random inputs, want > 0", term.Name, v)
			}
			if term.Landmark || stage == 1 {
				want += term.weight(cfg.Weights) * v
			}
		}
		if total := float64(got[0].Value().(float32)); math.Abs(total-want) > 1e-4*want {
			t.Errorf("stage %v: loss %g, want %g", stage, total, want)
		}
	}
}

// TestFitCalibration checks the logistic fit on a hand-computed case: at logit 0 a quarter of
// the garments show the attribute and at logit 1 three quarters, so the fit is intercept
// logit(1/4) = -ln 3 and slope logit(3/4) - logit(1/4) = 2 ln 3 (up to the weak prior's pull,
// under 1e-3 with 800 garments); with 400 positives among 800 known labels the rate is 401/802.
// Unknown labels are left out, separable labels still give a finite fit, and the fit of a rare
// attribute the logits nearly separate is the optimum.
func TestFitCalibration(t *testing.T) {
	var logits [][]float32
	var labels [][]int8
	add := func(z float32, l0, l1 int8) {
		logits = append(logits, []float32{z, z})
		labels = append(labels, []int8{l0, l1})
	}
	for range 100 {
		add(0, 1, -1)
		add(0, -1, -1)
		add(0, -1, -1)
		add(0, -1, -1)
		add(1, 1, 1)
		add(1, 1, 1)
		add(1, 1, 1)
		add(1, -1, 1)
	}
	add(50, 0, 0) // unknown: no weight on either fit
	cal, err := FitCalibration(logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	want := Calibration{Slope: 2 * math.Log(3), Intercept: -math.Log(3), Rate: 401.0 / 802}
	if c := cal[0]; math.Abs(c.Slope-want.Slope) > 1e-3 || math.Abs(c.Intercept-want.Intercept) > 1e-3 || c.Rate != want.Rate {
		t.Errorf("calibration %+v, want %+v", c, want)
	}
	if c := cal[1]; math.IsInf(c.Slope, 0) || math.IsNaN(c.Slope) || c.Slope < 5 || c.Rate != 401.0/802 {
		t.Errorf("separable labels: calibration %+v, want a finite steep slope and rate 401/802", c)
	}
	if _, err := FitCalibration(logits, labels[1:]); err == nil {
		t.Error("rows of logits and labels that differ in number: no error")
	}

	// A rare attribute: 10 positives around logit 5.5 (sd 1.1) among 1000 negatives around -6
	// (sd 5), at their normal quantiles. Full Newton steps overshot here to a slope of 633191
	// (the probabilities saturate and the curvature vanishes), so the fit must be checked to be
	// the optimum: the gradient of the negative log posterior vanishes there.
	quantile := func(mean, sd float64, i, n int) float64 {
		return mean + sd*math.Sqrt2*math.Erfinv(2*(float64(i)+0.5)/float64(n)-1)
	}
	var zs, ys []float64
	for i := range 1000 {
		zs, ys = append(zs, quantile(-6, 5, i, 1000)), append(ys, 0)
	}
	for i := range 10 {
		zs, ys = append(zs, quantile(5.5, 1.1, i, 10)), append(ys, 1)
	}
	slope, intercept := fitLogistic(zs, ys)
	g0, g1 := calibrationPrior*(slope-1), calibrationPrior*intercept
	for i, z := range zs {
		d := 1/(1+math.Exp(-(slope*z+intercept))) - ys[i]
		g0, g1 = g0+d*z, g1+d
	}
	if !(slope > 0 && slope < 10) || math.Abs(g0) > 1e-6 || math.Abs(g1) > 1e-6 {
		t.Errorf("rare attribute: slope %g, intercept %g, gradient (%g, %g); want a slope in (0, 10) and a zero gradient", slope, intercept, g0, g1)
	}
}

// TestAttributeScores checks the scores on hand-computed cases. Calibrated with slope 2,
// intercept -1 and rate 1/4, logit 0.5 has probability 1/2, twice the rate: score
// 1/(1+1/2) = 2/3. Corrected by the prior 1/2 with tau 1, logit 0 becomes ln 2: score 2/3 too.
func TestAttributeScores(t *testing.T) {
	cfg := DefaultConfig()
	for _, tt := range []struct {
		name   string
		adjust float64
		prior  []float32
		cal    []Calibration
		logit  float32
		want   float64
	}{
		{"raw", 0, nil, nil, 0, 0.5},
		{"prior", 1, []float32{0.5}, nil, 0, 2.0 / 3},
		{"calibrated", 1, []float32{0.5}, []Calibration{{Slope: 2, Intercept: -1, Rate: 0.25}}, 0.5, 2.0 / 3},
	} {
		cfg.AttributeAdjust, cfg.AttributePrior, cfg.AttributeCalibration = tt.adjust, tt.prior, tt.cal
		if got := cfg.attributeScorer().scores([]float32{tt.logit}); math.Abs(float64(got[0])-tt.want) > 1e-6 {
			t.Errorf("%s: score %v, want %v", tt.name, got[0], tt.want)
		}
	}
	if got := logSigmoid(-800); got != -800 {
		t.Errorf("logSigmoid(-800) = %v, want -800", got)
	}
}
