package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pipelineBundle has a detector and FashionNet (no aligner) and a small vocabulary.
const pipelineBundle = `{
  "format_version": 1,
  "tasks": ["detector", "fashionnet"],
  "networks": {
    "detector": {"task": "detector", "checkpoint": "detector", "input_size": [128, 128], "channels": 3,
      "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
      "config": {"backbone": {"Arch": "patch", "Widths": [32, 64, 128, 256]}, "neck": 64,
        "classes": [{"name": "upper", "type": "upper"}, {"name": "lower", "type": "lower"}, {"name": "full", "type": "full"}]},
      "training": {"dataset": "synthetic seed 1", "format": "deepfashion2", "split": "train", "samples": 20000,
        "epochs": 24, "steps": 30000, "batch_size": 16, "learning_rate": 0.003, "seed": 1, "backend": "go", "seconds": 5400}},
    "fashionnet": {"task": "fashionnet", "checkpoint": "fn", "input_size": [64, 64], "channels": 3,
      "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
      "config": {"embedding_dim": 128, "attribute_loss": "ranking"},
      "training": {"dataset": "synthetic seed 1", "format": "deepfashion-attr", "split": "train", "samples": 18000,
        "steps": 11250, "batch_size": 32, "learning_rate": 0.002, "seed": 1, "backend": "go", "seconds": 7200}}
  },
  "vocabulary": {
    "categories": [{"name": "Tee", "type": "upper"}, {"name": "Skirt", "type": "lower"}, {"name": "Dress", "type": "full"}],
    "attributes": [{"name": "striped", "type": "texture"}, {"name": "denim", "type": "fabric"}],
    "landmarks": ["a", "b", "c", "d", "e", "f", "g", "h"]
  }
}`

const classifierBundle = `{
  "format_version": 1,
  "tasks": ["classifier"],
  "networks": {
    "classifier": {"task": "classifier", "checkpoint": "classifier", "input_size": [28, 28], "channels": 1,
      "normalization": {"mean": [0.286], "std": [0.353]},
      "config": {"widths": [32, 64, 128], "blocks": 1},
      "training": {"dataset": "Fashion-MNIST", "format": "fashion-mnist", "split": "train", "samples": 60000,
        "epochs": 20, "steps": 18740, "batch_size": 64, "learning_rate": 0.002, "seed": 1, "backend": "go", "seconds": 3000}}
  },
  "vocabulary": {"categories": [{"name": "Bag", "type": "unknown"}, {"name": "Coat", "type": "full"}]}
}`

// evals are the `atelier eval --json` documents: FashionNet misses its attribute target.
var evalDocs = map[string]string{
	"fashionnet": `{"category": {"top1": 0.9, "top3": 0.97, "top5": 0.99, "n": 500},
	  "attributes": {"top3_recall": 0.55, "top5_recall": 0.7, "by_type": {"texture": {"top3_recall": 0.48, "top5_recall": 0.6}}},
	  "landmarks": {"ne": 0.051, "count": 4000},
	  "inshop": {"top1": 0.61, "top20": 0.93, "queries": 300},
	  "c2s": {"top1": 0.2, "top20": 0.58, "queries": 300}}`,
	"detector": `{"map50": 0.9, "map": 0.62, "per_class": {"upper": {"ap50": 0.93, "ap": 0.7, "ground_truths": 10, "detections": 12}},
	  "images": 500, "geometry": {"map50_without": 0.88, "map_without": 0.6, "delta_map50": 0.02, "delta_map": 0.02}}`,
	"classifier": `{"accuracy": 0.9312, "per_class": {"Bag": 0.98, "Coat": 0.88}, "confusion": [[98, 2], [12, 88]], "n": 200}`,
}

const pipelineEval = `{"images": 100, "garments": 180, "items": 170, "detected": 0.95, "category_accuracy": 0.8,
  "category_accuracy_matched": 0.84, "item_top1": 0.7, "item_top5": 0.9, "end_to_end": 0.62,
  "seconds": 8, "images_per_second": 12.5, "catalog_items": 1000, "catalog_seconds": 40}`

func writeFile(t *testing.T, name, text string, size int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if size > 0 {
		if err := os.Truncate(name, size); err != nil {
			t.Fatal(err)
		}
	}
}

// setup writes both bundles (fake checkpoints of 1.5 MB, 0.5 MB and 2 MB) and the eval folder,
// with pipeline.json when withPipeline.
func setup(t *testing.T, withPipeline bool) (bundle, classifier, evalDir string) {
	dir := t.TempDir()
	bundle, classifier, evalDir = filepath.Join(dir, "default"), filepath.Join(dir, "fmnist"), filepath.Join(dir, "eval")
	writeFile(t, filepath.Join(bundle, "bundle.json"), pipelineBundle, 0)
	writeFile(t, filepath.Join(bundle, "detector", "variables.gob"), "", 1_500_000)
	writeFile(t, filepath.Join(bundle, "fn", "variables.gob"), "", 500_000)
	writeFile(t, filepath.Join(classifier, "bundle.json"), classifierBundle, 0)
	writeFile(t, filepath.Join(classifier, "classifier", "variables.gob"), "", 2_000_000)
	for task, doc := range evalDocs {
		writeFile(t, filepath.Join(evalDir, task+".json"), doc, 0)
	}
	if withPipeline {
		writeFile(t, filepath.Join(evalDir, "pipeline.json"), pipelineEval, 0)
	}
	return bundle, classifier, evalDir
}

func TestGenerate(t *testing.T) {
	common := []string{
		"Not in these bundles: aligner.",
		"The pipeline bundle weighs 2.0 MB", // the checkpoints plus bundle.json
		"## Detector", "## FashionNet", "## Fashion-MNIST classifier",
		"- Input: 128x128 px, 3 channel(s); checkpoint 1.5 MB.",
		"  - backbone.Widths: [32,64,128,256]",
		"  - classes: 3 entries",
		"- Training run: 24 epochs, 30000 steps of batch 16, learning rate 0.003, seed 1, backend `go`, 90.0 minutes.",
		"| mAP@0.5 | 0.9 | >= 0.85 | met |",
		"| geometric pass: change of mAP@0.5 | 0.02 | reported |  |",
		"| category top-1 | 0.9 | >= 0.85 | met |",
		"| category top-3 | 0.97 | >= 0.95 | met |",
		"| attribute top-3 recall | 0.55 | >= 0.6 | not met |",
		"| attribute top-3 recall, texture | 0.48 | reported |  |",
		"| landmark NE | 0.051 | <= 0.06 | met |",
		"| in-shop top-20 | 0.93 | >= 0.9 | met |",
		"| consumer-to-shop top-20 | 0.58 | >= 0.6 | not met |",
		"| test accuracy | 0.9312 | >= 0.93 | met |",
		"| FashionNet (CVPR 2016), Category & Attribute | category top-3 (%) | 82.58 | 97.00 |",
		"| DFA (ECCV 2016), FLD | landmark NE | 0.0680 | not measured |",
		"The vocabulary has DeepFashion's 3 categories",
		"(types: upper, lower, full), of which the generator draws 17, 2 attributes",
		"The networks look at detector 128x128 px, fashionnet 64x64 px",
		"No weights\n  were trained on a GPU (backends: go)",
		"make model-card",
	}
	tests := []struct {
		name         string
		withPipeline bool
		want         []string
	}{
		{"without pipeline", false, []string{"Not measured: the eval folder has no pipeline.json."}},
		{"with pipeline", true, []string{
			"| end-to-end accuracy (garment, category and item right) | 0.62 | > 0.5 | met |",
			"| images per second | 12.5 | reported |  |",
			"| share of garments detected | 0.95 | reported |  |",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle, classifier, evalDir := setup(t, tc.withPipeline)
			var out bytes.Buffer
			if err := generate(&out, bundle, classifier, evalDir); err != nil {
				t.Fatal(err)
			}
			md := out.String()
			for _, want := range append(common, tc.want...) {
				if !strings.Contains(md, want) {
					t.Errorf("the card lacks %q", want)
				}
			}
			if t.Failed() {
				t.Logf("card:\n%s", md)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(bundle, evalDir string) error
		want  string
	}{
		{"malformed eval", func(_, evalDir string) error {
			return os.WriteFile(filepath.Join(evalDir, "detector.json"), []byte(`{"map50": `), 0o644)
		}, "detector.json"},
		{"missing checkpoint", func(bundle, _ string) error {
			return os.RemoveAll(filepath.Join(bundle, "fn"))
		}, "fashionnet"},
		{"bad config", func(bundle, _ string) error {
			return os.WriteFile(filepath.Join(bundle, "bundle.json"),
				[]byte(strings.Replace(pipelineBundle, `"config": {"embedding_dim": 128, "attribute_loss": "ranking"}`, `"config": [1]`, 1)), 0o644)
		}, "config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle, classifier, evalDir := setup(t, false)
			if err := tc.spoil(bundle, evalDir); err != nil {
				t.Fatal(err)
			}
			err := generate(&bytes.Buffer{}, bundle, classifier, evalDir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("generate: got error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestTargetMet(t *testing.T) {
	tests := []struct {
		t    target
		v    float64
		want bool
	}{
		{atLeast(0.85), 0.85, true},
		{atLeast(0.85), 0.8499, false},
		{atMost(0.05), 0.05, true},
		{atMost(0.05), 0.0501, false},
		{target{">", 0.5}, 0.5, false},
		{target{">", 0.5}, 0.51, true},
	}
	for _, tc := range tests {
		if got := tc.t.met(tc.v); got != tc.want {
			t.Errorf("%v met by %v = %v, want %v", tc.t, tc.v, got, tc.want)
		}
	}
}

func TestAlignerRows(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []row
	}{
		{"cascade helps", `{"ne": 0.045, "ne_by_stage": [0.06, 0.05, 0.045], "by_variation": {"pose": 0.05}}`, []row{
			{"NE after the cascade", "0.045", "<= 0.05", "met"},
			{"NE after stage 1", "0.06", "reported", ""},
			{"NE after stage 2", "0.05", "reported", ""},
			{"NE after stage 3", "0.045", "reported", ""},
			{"relative gain of stage 3 over stage 1", "0.25", ">= 0.1", "met"},
			{"NE, variation pose", "0.05", "reported", ""},
		}},
		{"cascade idle", `{"ne": 0.058, "ne_by_stage": [0.06, 0.058]}`, []row{
			{"NE after the cascade", "0.058", "<= 0.05", "not met"},
			{"NE after stage 1", "0.06", "reported", ""},
			{"NE after stage 2", "0.058", "reported", ""},
			{"relative gain of stage 2 over stage 1", "0.0333", ">= 0.1", "not met"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "aligner.json"), tc.doc, 0)
			e, err := readEvals(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.alignerRows(); !slices.Equal(got, tc.want) {
				t.Errorf("got rows\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

// TestGenerateFineTuned checks that a network trained with --init is described with the runs it
// continued, from its own record (Training.Earlier), and with their backends among the card's.
func TestGenerateFineTuned(t *testing.T) {
	bundle, classifier, evalDir := setup(t, false)
	earlier := `"earlier": [{"dataset": "synthetic seed 1", "format": "deepfashion-attr", "split": "train", "samples": 18000,
		"epochs": 30, "steps": 9000, "batch_size": 32, "learning_rate": 0.002, "seed": 1, "backend": "xla:cuda", "seconds": 3600}]`
	tuned := strings.Replace(pipelineBundle, `"seconds": 7200}`, `"seconds": 7200, "initialized_from": "out/base", `+earlier+`}`, 1)
	writeFile(t, filepath.Join(bundle, "bundle.json"), tuned, 0)
	var out bytes.Buffer
	if err := generate(&out, bundle, classifier, evalDir); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"- Stage 1:\n- Training data: synthetic seed 1 (deepfashion-attr, train split), 18000 samples.\n- Training run: 30 epochs, 9000 steps of batch 32, learning rate 0.002, seed 1, backend `xla:cuda`, 60.0 minutes.",
		"- Stage 2, fine-tuning the network of `out/base`:\n- Training data: synthetic seed 1 (deepfashion-attr, train split), 18000 samples.\n- Training run: 11250 steps",
		// The detector was not fine-tuned: no stage lines.
		"- Training data: synthetic seed 1 (deepfashion2, train split), 20000 samples.\n- Training run: 24 epochs",
		"Trained on the backends go, xla:cuda:",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the card lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("card:\n%s", md)
	}
}
