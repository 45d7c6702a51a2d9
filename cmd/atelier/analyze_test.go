package main

import (
	"bufio"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/aligner"
	"github.com/atelier-ml/atelier/model/detector"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// writeTinyBundle saves untrained tiny detector and aligner networks as a bundle: enough for the
// command's plumbing, not for meaningful garments.
func writeTinyBundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	addTinyDetectorAligner(t, dir)
	return dir
}

// addTinyDetectorAligner adds untrained tiny detector and aligner networks to the bundle in dir,
// creating it when missing.
func addTinyDetectorAligner(t testing.TB, dir string) {
	t.Helper()
	t.Setenv("GOMLX_BACKEND", "go:ops_sequential") // compute v0.1.2 deadlocks when parallel ops nest large matmuls
	backend, err := compute.NewWithConfig("go:ops_sequential")
	if err != nil {
		t.Fatal(err)
	}
	bb := nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{8, 16, 16, 32}, Depths: [4]int{1, 1, 1, 1}, InputSize: 64}
	dcfg := detector.Config{Backbone: bb, Neck: 8, Head: 8, Classes: detector.TypeClasses()}
	acfg := aligner.Config{Backbone: bb, Hidden: 8, Clusters: 2, Margin: 0.1, Step: 0.1}
	b, err := model.LoadOrNew(dir, model.Vocabulary{})
	if err != nil {
		t.Fatal(err)
	}
	norm := model.Normalization{Mean: imageio.ImageNetNorm.Mean, Std: imageio.ImageNetNorm.Std}
	img := []image.Image{image.NewRGBA(image.Rect(0, 0, 64, 64))}

	dstore := train.InitStore(1) // seeded: an untrained network that differs by run would make its tests flaky
	det, err := detector.New(backend, dstore, dcfg, imageio.ImageNetNorm)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	if _, err := det.Detect(img, detector.DecodeOptions{}); err != nil { // initialises the variables
		t.Fatal(err)
	}
	astore := train.InitStore(2)
	al, err := aligner.New(backend, astore, acfg, imageio.ImageNetNorm)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	if _, err := al.Align(img[0], [][4]float32{{10, 10, 40, 40}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		task, scope string
		cfg         any
		store       *mlmodel.Store
	}{{model.TaskDetector, detector.Scope, dcfg, dstore}, {model.TaskAligner, aligner.Scope, acfg, astore}} {
		raw, err := json.Marshal(n.cfg)
		if err != nil {
			t.Fatal(err)
		}
		net := &model.Network{Task: n.task, InputSize: [2]int{64, 64}, Channels: 3, Normalization: norm, Config: raw}
		if err := b.SaveNetwork(dir, net, n.store, n.scope); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Save(dir); err != nil {
		t.Fatal(err)
	}
}

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(4 * y), 100, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestAnalyzeCommand(t *testing.T) {
	bundle := writeTinyBundle(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "photo.png")
	writePNG(t, good, 50, 40)
	notImage := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(notImage, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.jpg")
	annotated := filepath.Join(dir, "annotated")

	// One image: one JSON object with the contract's fields, and its annotated PNG.
	stdout, code := runCLI(t, "analyze", "--model", bundle, good, "--json", "--annotate", annotated, "--min-score", "1e-9")
	if code != 0 {
		t.Fatalf("analyze: exit %d", code)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &obj); err != nil {
		t.Fatalf("analyze output %q: %v", stdout, err)
	}
	for _, field := range []string{"image", "width", "height", "garments", "timings_ms"} {
		if _, ok := obj[field]; !ok {
			t.Errorf("no %q in %s", field, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(annotated, "photo.png")); err != nil {
		t.Errorf("annotated image: %v", err)
	}

	// Bad inputs among good ones: exit 2, and every good image still gets its JSON line.
	stdout, code = runCLI(t, "analyze", "--model", bundle, good, notImage, missing, good, "--json")
	if code != 2 {
		t.Errorf("analyze with bad inputs: exit %d, want 2", code)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var r struct {
			Image string `json:"image"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Image != good {
			t.Errorf("line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 2 {
		t.Errorf("%d JSON lines, want 2 (the good images)", lines)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no image", []string{"analyze", "--model", bundle}},
		{"no bundle", []string{"analyze", "--model", filepath.Join(dir, "nope"), good}},
	} {
		if _, code := runCLI(t, tc.args...); code != 2 {
			t.Errorf("%s: exit %d, want 2", tc.name, code)
		}
	}
}

// TestPoolAtAligned checks that --pool-at-aligned changes where FashionNet pools: the same
// garments and landmarks, other embeddings.
func TestPoolAtAligned(t *testing.T) {
	bundle, inshop := writeRetrievalBundle(t)
	photos, err := filepath.Glob(filepath.Join(filepath.Dir(inshop), "scenes", "validation", "image", "*.jpg"))
	if err != nil || len(photos) == 0 {
		t.Fatalf("no street photo: %v", err)
	}
	type garment struct {
		Box       [4]float32
		Landmarks []struct{ X, Y float32 }
		Embedding []float32
	}
	analyze := func(extra ...string) []garment {
		t.Helper()
		stdout, code := runCLI(t, append([]string{"analyze", photos[0], "--model", bundle, "--min-score", "1e-9", "--json"}, extra...)...)
		if code != 0 {
			t.Fatalf("analyze %v: exit %d\n%s", extra, code, stdout)
		}
		var res struct{ Garments []garment }
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Garments) == 0 {
			t.Fatalf("analyze %v printed %q: %v", extra, stdout, err)
		}
		return res.Garments
	}
	own, aligned := analyze(), analyze("--pool-at-aligned")
	if len(own) != len(aligned) {
		t.Fatalf("%d garments pooling at FashionNet's landmarks, %d at the aligner's", len(own), len(aligned))
	}
	differ := false
	for i := range own {
		if own[i].Box != aligned[i].Box || !slices.Equal(own[i].Landmarks, aligned[i].Landmarks) {
			t.Errorf("garment %d: box or landmarks changed with --pool-at-aligned", i)
		}
		differ = differ || !slices.Equal(own[i].Embedding, aligned[i].Embedding)
	}
	if !differ {
		t.Error("--pool-at-aligned left every embedding as it was")
	}
}
