package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/dataset/synth"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/fashionnet"
	"github.com/atelier-ml/atelier/train"
)

// TestTrainEvalFashionNet trains a tiny FashionNet for a few steps on synthetic attribute and
// In-shop data through the command's code, and evaluates the bundle with --json.
func TestTrainEvalFashionNet(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go:ops_sequential") // see goBackend in model/fashionnet's tests
	data := t.TempDir()
	if _, err := synth.New(5).Write(data, synth.Options{Images: 80}); err != nil {
		t.Fatal(err)
	}
	net := addFashionNetFlags(pflag.NewFlagSet("test", pflag.ContinueOnError))
	net.inputSize, net.widths, net.embeddingDim, net.views = 32, "8,16,16,32", 16, 2
	out := filepath.Join(t.TempDir(), "bundle")
	formats, dirs := "deepfashion-attr,deepfashion-inshop", filepath.Join(data, "attr")+","+filepath.Join(data, "inshop")
	var stdout bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&stdout)
	cmd.SetContext(t.Context())
	tc := train.Config{Steps: 3, BatchSize: 8, LearningRate: 1e-3, Seed: 1, CheckpointEvery: time.Minute}
	if err := trainFashionNet(cmd, dirs, formats, out, tc, true, false, net); err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("train --json printed %q: %v", stdout.String(), err)
	}

	stdout.Reset()
	if err := evalFashionNet(cmd, out, formats, dirs, "test", true); err != nil {
		t.Fatal(err)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("eval --json printed %q: %v", stdout.String(), err)
	}
	for _, section := range []string{"category", "attributes", "landmarks", "inshop"} {
		if _, ok := res[section]; !ok {
			t.Errorf("eval --json has no %q section: %s", section, stdout.String())
		}
	}
	if _, ok := res["c2s"]; ok {
		t.Errorf("eval --json has a c2s section without Consumer-to-shop data: %s", stdout.String())
	}

	// Calibration on the validation photos sets one calibration per attribute, gives the network
	// a new ID, and the bundle still evaluates.
	before, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := calibrate(cmd, out, "deepfashion-attr", filepath.Join(data, "attr"), "dev"); exitCode(err) != 2 {
		t.Errorf("calibrate on an unknown split: %v, want exit status 2", err)
	}
	if err := calibrate(cmd, out, "deepfashion-attr", filepath.Join(data, "attr"), dataset.Val); err != nil {
		t.Fatal(err)
	}
	after, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	var cfg fashionnet.Config
	n, _ := after.Network(model.TaskFashionNet)
	if err := json.Unmarshal(n.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	nb, _ := before.Network(model.TaskFashionNet)
	if len(cfg.AttributeCalibration) != len(after.Vocabulary.Attributes) || n.ID() == nb.ID() {
		t.Errorf("calibrated bundle: %d calibrations for %d attributes, ID %s (was %s)",
			len(cfg.AttributeCalibration), len(after.Vocabulary.Attributes), n.ID(), nb.ID())
	}
	if err := evalFashionNet(cmd, out, formats, dirs, "test", true); err != nil {
		t.Errorf("eval of the calibrated bundle: %v", err)
	}

	// Fine-tuning the result (--init), here on crops twice as large, records where it started.
	init, err := initWeights(model.TaskFashionNet, out, 0)
	if err != nil {
		t.Fatal(err)
	}
	tuned := filepath.Join(t.TempDir(), "tuned")
	tc.Init, tc.InitFrom = init, out
	net.inputSize = 64
	if err := trainFashionNet(cmd, dirs, formats, tuned, tc, true, false, net); err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(tuned)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.Network(model.TaskFashionNet); err != nil || n.Training.InitializedFrom != out || n.InputSize != [2]int{64, 64} {
		t.Errorf("fine-tuned bundle: network %+v, %v; want initialized_from %s and 64x64 input", n, err, out)
	}
	if _, err := initWeights(model.TaskFashionNet, filepath.Join(data, "attr"), 0); exitCode(err) != 2 {
		t.Errorf("--init of a folder without a bundle: %v, want exit status 2", err)
	}

	err = evalFashionNet(cmd, out, "deepfashion2", filepath.Join(data, "scenes"), "test", true)
	if code := exitCode(err); code != 2 {
		t.Errorf("eval on an unsupported format: exit status %d (%v), want 2", code, err)
	}
}

// exitCode is the status run would exit with for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	return 1
}

// TestFashionNetFlags checks that the loss flags reach the network configuration and that a
// configuration the network refuses is bad input.
func TestFashionNetFlags(t *testing.T) {
	for _, tc := range []struct {
		args                         []string
		attributes, identity, adjust float64
		code                         int
	}{
		{nil, 1, 0, 1, 0},
		{[]string{"--attr-weight", "3", "--identity-weight", "0.5", "--attr-adjust", "0"}, 3, 0.5, 0, 0},
		{[]string{"--attr-weight", "-1"}, 0, 0, 0, 2},
	} {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		net := addFashionNetFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := net.config()
		if code := exitCode(err); code != tc.code {
			t.Errorf("%v: exit status %d (%v), want %d", tc.args, code, err, tc.code)
			continue
		}
		if err == nil && (cfg.Weights.Attributes != tc.attributes || cfg.Weights.Identity != tc.identity || cfg.AttributeAdjust != tc.adjust) {
			t.Errorf("%v: weights %+v, adjust %g; want attributes %g, identity %g, adjust %g",
				tc.args, cfg.Weights, cfg.AttributeAdjust, tc.attributes, tc.identity, tc.adjust)
		}
	}
}
