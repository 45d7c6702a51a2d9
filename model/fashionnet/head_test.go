package fashionnet

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/train"
)

// TestTrainAttributeHead fits a hidden-layer attribute head to the trained fixture and checks
// that its loss falls, that only the attribute head changed (every other metric is the
// fixture's, to the last digit), and that the bundle reloads to the same metrics.
func TestTrainAttributeHead(t *testing.T) {
	f := trained(t)
	out := filepath.Join(t.TempDir(), "bundle")
	const steps = 60
	rep, err := TrainAttributeHead(context.Background(), goBackend(t), f.sets, HeadOptions{
		Init: f.out, Out: out, Hidden: 32,
		Train:   train.Config{BatchSize: 32, Steps: steps, LearningRate: 3e-3, Seed: 1, CurvePoints: steps},
		Dataset: "synthetic, seed 3", Backend: "go",
	})
	if err != nil {
		t.Fatal(err)
	}
	loss := rep.Run.Curves["loss"]
	if len(loss) < 20 || !(loss[len(loss)-1].Value < loss[0].Value) {
		t.Errorf("head loss did not fall: %v", loss)
	}

	b, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	net, store, err := b.LoadConfigured(model.TaskFashionNet, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AttributeHidden != 32 || len(cfg.AttributeCalibration) != len(b.Vocabulary.Attributes) {
		t.Errorf("config has attribute_hidden %d and %d calibrations, want 32 and %d",
			cfg.AttributeHidden, len(cfg.AttributeCalibration), len(b.Vocabulary.Attributes))
	}
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Scope(), Scope+"/attributes") {
			t.Errorf("the linear head's variable %s is still in the bundle", v.Path())
		}
	}
	if n := len(net.Training.Earlier); n != 1 || net.Training.InitializedFrom != f.out {
		t.Errorf("training record: initialized from %q with %d earlier runs, want %q and 1", net.Training.InitializedFrom, n, f.out)
	}

	for name, pair := range map[string][2]any{
		"category": {rep.Metrics.Category, f.report.Metrics.Category}, "landmarks": {rep.Metrics.Landmarks, f.report.Metrics.Landmarks},
		"inshop": {rep.Metrics.InShop, f.report.Metrics.InShop}, "c2s": {rep.Metrics.C2S, f.report.Metrics.C2S},
	} {
		got, _ := json.Marshal(pair[0])
		want, _ := json.Marshal(pair[1])
		if string(got) != string(want) {
			t.Errorf("%s changed with the attribute head:\n got %s\nwant %s", name, got, want)
		}
	}
	got, err := Evaluate(goBackend(t), b, f.sets, dataset.Test, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(rep.Metrics)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("metrics after reload differ:\n got %s\nwant %s", gotJSON, wantJSON)
	}
}
