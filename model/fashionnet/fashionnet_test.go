package fashionnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/dataset/synth"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// tinyConfig is a FashionNet small enough to train a few dozen steps in seconds on 2 cores.
func tinyConfig() Config {
	cfg := DefaultConfig()
	cfg.Backbone = nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{16, 32, 48, 64}, Depths: [4]int{1, 1, 1, 1}, InputSize: 64}
	cfg.GlobalDim, cfg.LocalDim, cfg.FusedDim, cfg.LandmarkDim, cfg.EmbeddingDim = 64, 32, 64, 64, 32
	cfg.ViewsPerItem = 3
	cfg.Weights.Identity = 1
	return cfg
}

// goBackend is the pure Go backend with its operations run one at a time: compute v0.1.2 can
// deadlock when it runs several matrix multiplications side by side in its worker pool (each
// waits for free workers that the others hold), which a test must never do.
func goBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := compute.NewWithConfig("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// synthSets renders a small synthetic dataset and loads its attribute, In-shop and
// Consumer-to-shop folders.
func synthSets(t testing.TB, dir string, images int, seed uint64) []*dataset.Dataset {
	t.Helper()
	if _, err := synth.New(seed).Write(dir, synth.Options{Images: images}); err != nil {
		t.Fatal(err)
	}
	var sets []*dataset.Dataset
	for _, f := range []struct{ folder, format string }{
		{"attr", dataset.FormatAttr}, {"inshop", dataset.FormatInShop}, {"c2s", dataset.FormatC2S},
	} {
		d, err := dataset.Load(f.format, filepath.Join(dir, f.folder))
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, d)
	}
	return sets
}

// trainedFixture is one short training shared by the tests that need a trained network.
type trainedFixture struct {
	sets   []*dataset.Dataset
	out    string
	report *Report
	err    error
}

var (
	fixtureOnce sync.Once
	fixture     trainedFixture
	// fixtureDir holds the fixture's data and bundle; TestMain removes it.
	fixtureDir string
)

func TestMain(m *testing.M) {
	var err error
	if fixtureDir, err = os.MkdirTemp("", "fashionnet-test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(fixtureDir)
	os.Exit(code)
}

const fixtureSteps = 40

func trained(t *testing.T) *trainedFixture {
	t.Helper()
	fixtureOnce.Do(func() {
		dir := fixtureDir
		fixture.sets = synthSets(t, filepath.Join(dir, "data"), 200, 3)
		fixture.out = filepath.Join(dir, "bundle")
		fixture.report, fixture.err = Train(context.Background(), goBackend(t), fixture.sets, Options{
			Out:    fixture.out,
			Config: tinyConfig(),
			Train: train.Config{BatchSize: 12, Steps: fixtureSteps, LearningRate: 2e-3, Seed: 1,
				CurvePoints: fixtureSteps},
			Dataset: "synthetic, seed 3",
			Backend: "go",
		})
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return &fixture
}

// TestTrainLossesDecrease trains a few dozen steps on every kind of label at once and checks
// that each term of the loss falls.
func TestTrainLossesDecrease(t *testing.T) {
	f := trained(t)
	for _, term := range objective(tinyConfig(), nil, nil) {
		pts := f.report.Run.Curves[term.Name]
		if len(pts) < 20 {
			t.Fatalf("%s: %d curve points, want one per step", term.Name, len(pts))
		}
		mean := func(ps []train.Point) float64 {
			s := 0.0
			for _, p := range ps {
				s += p.Value
			}
			return s / float64(len(ps))
		}
		first, last := mean(pts[:10]), mean(pts[len(pts)-10:])
		t.Logf("%s: first 10 steps %.4f, last 10 %.4f", term.Name, first, last)
		if !(last < first) {
			t.Errorf("%s did not decrease: first 10 steps %.4f, last 10 %.4f", term.Name, first, last)
		}
	}
}

// TestMetricsJSON checks that the evaluation of data with every kind of label has every field
// of `atelier eval fashionnet --json`.
func TestMetricsJSON(t *testing.T) {
	f := trained(t)
	data, err := json.Marshal(f.report.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	retrieval := []string{"top1", "top5", "top10", "top20", "top30", "top40", "top50"}
	want := map[string][]string{
		"category":   {"top1", "top3", "top5"},
		"attributes": {"top3_recall", "top5_recall", "by_type"},
		"landmarks":  {"ne", "per_landmark", "detection_rate"},
		"inshop":     retrieval,
		"c2s":        retrieval,
	}
	for section, fields := range want {
		for _, field := range fields {
			if _, ok := doc[section][field]; !ok {
				t.Errorf("%s.%s missing from %s", section, field, data)
			}
		}
	}
	byType, _ := doc["attributes"]["by_type"].(map[string]any)
	for _, typ := range []string{"texture", "fabric", "shape", "part", "style"} {
		r, _ := byType[typ].(map[string]any)
		if _, ok := r["top3_recall"]; !ok {
			t.Errorf("attributes.by_type.%s.top3_recall missing from %s", typ, data)
		}
	}
	if pl, _ := doc["landmarks"]["per_landmark"].([]any); len(pl) != 8 {
		t.Errorf("landmarks.per_landmark has %d entries, want 8", len(pl))
	}
}

// TestSaveLoadEval checks that the bundle Train wrote gives exactly the metrics measured on
// the network in memory.
func TestSaveLoadEval(t *testing.T) {
	f := trained(t)
	b, err := model.Load(f.out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Vocabulary.Attributes) == 0 || len(b.Vocabulary.Landmarks) != 8 {
		t.Errorf("bundle vocabulary has %d attributes and %d landmarks", len(b.Vocabulary.Attributes), len(b.Vocabulary.Landmarks))
	}
	got, err := Evaluate(goBackend(t), b, f.sets, dataset.Test, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(f.report.Metrics)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("metrics after reload differ:\n got %s\nwant %s", gotJSON, wantJSON)
	}
}
