package model

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// TestTrainingEarlier checks that a fine-tuning run records the runs of the network it started
// from, earliest first, flattened, and that a start it cannot read is an error.
func TestTrainingEarlier(t *testing.T) {
	first := Training{Dataset: "a", Steps: 800, Seed: 1}
	second := Training{Dataset: "b", Steps: 600, Seed: 2, InitializedFrom: "out/first", Earlier: []Training{first}}
	dir := t.TempDir()
	b := New(Vocabulary{})
	b.Networks[TaskFashionNet] = &Network{Task: TaskFashionNet, Checkpoint: TaskFashionNet, Training: second}
	b.Tasks = []string{TaskFashionNet}
	if err := os.MkdirAll(filepath.Join(dir, TaskFashionNet), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TaskFashionNet, nn.CheckpointFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(dir); err != nil {
		t.Fatal(err)
	}
	secondAlone := second
	secondAlone.Earlier = nil

	tests := []struct {
		name, task, from string
		want             []Training // Earlier
		wantErr          string
	}{
		{"from scratch", TaskFashionNet, "", nil, ""},
		{"fine-tuning", TaskFashionNet, dir, []Training{first, secondAlone}, ""},
		{"no such network", TaskDetector, dir, nil, "detector"},
		{"no bundle", TaskFashionNet, filepath.Join(dir, "missing"), nil, "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var earlier []Training
			if tc.from != "" { // as RunTraining does before it trains
				var err error
				earlier, err = runsOf(tc.from, tc.task)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			run := &Trained{Config: train.Config{InitFrom: tc.from, Steps: 300, BatchSize: 64, Seed: 3},
				Result: &train.Result{Step: 300, TotalElapsed: time.Minute}, Samples: 1000, Earlier: earlier}
			got := run.Training("c", "deepfashion-attr", "flip", "go")
			if got.Steps != 300 || got.Seed != 3 || got.InitializedFrom != tc.from || got.Seconds != 60 {
				t.Errorf("record %+v: not this run's", got)
			}
			if !reflect.DeepEqual(got.Earlier, tc.want) {
				t.Errorf("Earlier = %+v, want %+v", got.Earlier, tc.want)
			}
		})
	}
}
