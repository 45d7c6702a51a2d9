package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/atelier-ml/atelier/model"
)

// writeFashionMNIST writes a tiny Fashion-MNIST folder (gzip IDX files) with nTrain and nTest
// 28x28 images; the label of image i is i % 10 and its pixels encode the label.
func writeFashionMNIST(t *testing.T, nTrain, nTest int) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, magic uint32, dims []uint32, data []byte) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		for _, v := range append([]uint32{magic}, dims...) {
			if err := binary.Write(zw, binary.BigEndian, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, part := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		labels := make([]byte, part.n)
		images := make([]byte, part.n*28*28)
		for i := range labels {
			labels[i] = byte(i % 10)
			for p := range 28 * 28 {
				if p/28/3 == i%10 {
					images[i*28*28+p] = 200
				}
			}
		}
		write(part.prefix+"-labels-idx1-ubyte.gz", 0x801, []uint32{uint32(part.n)}, labels)
		write(part.prefix+"-images-idx3-ubyte.gz", 0x803, []uint32{uint32(part.n), 28, 28}, images)
	}
	return dir
}

func TestTrainEvalClassifier(t *testing.T) {
	data := writeFashionMNIST(t, 40, 20)
	out := filepath.Join(t.TempDir(), "bundle")
	args := []string{"train", "classifier", "--data", data, "--format", "fashion-mnist", "--out", out,
		"--steps", "4", "--batch", "8", "--warmup", "1", "--widths", "4,8", "--json"}
	stdout, code := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("train: exit %d, stdout %q", code, stdout)
	}
	var sum trainSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Task != "classifier" || sum.Backend == "" {
		t.Fatalf("train summary %q: %v", stdout, err)
	}

	stdout, code = runCLI(t, "eval", "classifier", "--model", out, "--data", data, "--format", "fashion-mnist", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d", code)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("eval output %q: %v", stdout, err)
	}
	for _, field := range []string{"accuracy", "per_class", "confusion"} {
		if _, ok := res[field]; !ok {
			t.Errorf("eval JSON lacks %q: %s", field, stdout)
		}
	}
	var confusion [][]int
	if err := json.Unmarshal(res["confusion"], &confusion); err != nil || len(confusion) != 10 {
		t.Errorf("confusion %s: want a 10x10 matrix", res["confusion"])
	}

	// Resuming a finished run has nothing left to do but still writes the bundle.
	if _, code := runCLI(t, append(args, "--resume")...); code != 0 {
		t.Errorf("resume of a finished run: exit %d", code)
	}
}

func TestTrainEvalBadUsage(t *testing.T) {
	data := writeFashionMNIST(t, 10, 10)
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown task", []string{"train", "knitting", "--data", data, "--out", out}},
		{"fashionnet without format", []string{"train", "fashionnet", "--data", data, "--out", out}},
		{"detector on fashion-mnist", []string{"train", "detector", "--data", data, "--out", out, "--format", "fashion-mnist"}},
		{"no data", []string{"train", "classifier", "--out", out}},
		{"epochs and steps", []string{"train", "classifier", "--data", data, "--out", out, "--epochs", "1", "--steps", "3"}},
		{"bad widths", []string{"train", "classifier", "--data", data, "--out", out, "--widths", "8,x"}},
		{"wrong format", []string{"train", "classifier", "--data", data, "--out", out, "--format", "deepfashion-attr"}},
		{"missing data folder", []string{"train", "classifier", "--data", filepath.Join(out, "nope"), "--out", out}},
		{"nothing to resume", []string{"train", "classifier", "--data", data, "--out", out, "--resume", "--steps", "1", "--batch", "2"}},
		{"head without init", []string{"train", "fashionnet", "--data", data, "--out", out, "--format", "deepfashion-attr", "--attr-head-only", "--attr-hidden", "8"}},
		{"eval without bundle", []string{"eval", "classifier", "--model", out, "--data", data}},
		{"eval detector without format", []string{"eval", "detector", "--model", out, "--data", data}},
		{"eval bad split", []string{"eval", "classifier", "--model", out, "--data", data, "--split", "dev"}},
	} {
		if _, code := runCLI(t, tc.args...); code != 2 {
			t.Errorf("%s: exit %d, want 2", tc.name, code)
		}
	}
}

func TestInitAlignerSize(t *testing.T) {
	dir := writeTinyBundle(t) // its aligner takes 64 px crops
	for _, tt := range []struct {
		size, code int
	}{{64, 0}, {0, 0}, {96, 2}} {
		if _, err := initWeights(model.TaskAligner, dir, tt.size); exitCode(err) != tt.code {
			t.Errorf("--init of a 64 px aligner for %d px crops: %v, want exit status %d", tt.size, err, tt.code)
		}
	}
}
