package nn

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// tinyBackbone is a small configuration of arch for fast tests.
func tinyBackbone(arch string) BackboneConfig {
	return BackboneConfig{Arch: arch, Widths: [4]int{16, 32, 48, 64}, Depths: [4]int{1, 2, 1, 1}, InputSize: 32}
}

func TestBackboneFeatureMaps(t *testing.T) {
	for _, arch := range []string{ArchPatch, ArchResNet} {
		cfg := tinyBackbone(arch)
		x := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 64, 96, 3))
		outs, err := model.CallOnceN(testBackend(t), model.NewStore(), func(scope *model.Scope, x *Node) []*Node {
			return Backbone(scope, cfg, x)
		}, x)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		for i, stride := range []int{4, 8, 16, 32} {
			want := shapes.Make(dtypes.Float32, 2, 64/stride, 96/stride, cfg.Widths[i])
			if !outs[i].Shape().Equal(want) {
				t.Errorf("%s feature map %d: shape %s, want %s", arch, i, outs[i].Shape(), want)
			}
		}
	}
}

func TestBackboneConfigValidate(t *testing.T) {
	bad := []BackboneConfig{
		{Arch: "vgg", Widths: [4]int{8, 8, 8, 8}, Depths: [4]int{1, 1, 1, 1}, InputSize: 32},
		{Arch: ArchPatch, Widths: [4]int{8, 8, 8, 7}, Depths: [4]int{1, 1, 1, 1}, InputSize: 32},
		{Arch: ArchPatch, Widths: [4]int{8, 8, 8, 8}, Depths: [4]int{1, 0, 1, 1}, InputSize: 32},
		{Arch: ArchPatch, Widths: [4]int{8, 8, 8, 8}, Depths: [4]int{1, 1, 1, 1}, InputSize: 100},
	}
	for _, cfg := range bad {
		if cfg.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", cfg)
		}
	}
	for _, cfg := range []BackboneConfig{DefaultBackbone(), ResNetBackbone()} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", cfg, err)
		}
	}
}

// shapesBatch renders n 32x32 images of a red or blue, horizontal or vertical bar at a random
// place and size on a noisy background; the label is 2*colour + orientation.
func shapesBatch(rng *rand.Rand, n int) (images []float32, labels []int32) {
	const size = 32
	images = make([]float32, n*size*size*3)
	labels = make([]int32, n)
	for b := range n {
		colour, shape := rng.IntN(2), rng.IntN(2)
		labels[b] = int32(2*colour + shape)
		r := 5 + rng.Float64()*5
		cx, cy := r+rng.Float64()*(size-2*r), r+rng.Float64()*(size-2*r)
		for y := range size {
			for x := range size {
				dx, dy := max(float64(x)+0.5-cx, cx-float64(x)-0.5), max(float64(y)+0.5-cy, cy-float64(y)-0.5)
				if shape == 1 {
					dx, dy = dy, dx
				}
				inside := dx <= r && dy <= r/3
				px := images[((b*size+y)*size+x)*3:][:3]
				for c := range px {
					px[c] = float32(rng.NormFloat64() * 0.1)
				}
				if inside {
					px[2*colour] += 1 // red (channel 0) or blue (channel 2)
				}
			}
		}
	}
	return images, labels
}

// TestBackboneLearnsShapes trains the default architecture, at a tiny width, on a colour x shape
// task for a fixed number of steps and checks the accuracy on fresh images in inference mode.
func TestBackboneLearnsShapes(t *testing.T) {
	const (
		steps = 300
		batch = 32
	)
	backend := testBackend(t)
	cfg := tinyBackbone(ArchPatch)
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(42); err != nil {
		t.Fatal(err)
	}
	modelFn := func(scope *model.Scope, images *Node) *Node {
		return ClassifierHead(scope, Backbone(scope, cfg, images)[3], 4)
	}
	trainer := train.NewTrainer(backend, store, modelFn, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.Adam().LearningRate(3e-3).Done(), nil, nil)
	rng := rand.New(rand.NewPCG(11, 12))
	for step := range steps {
		images, labels := shapesBatch(rng, batch)
		if _, err := trainer.TrainStep(train.Batch{
			Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(images, batch, 32, 32, 3)},
			Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, batch, 1)},
		}); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, images *Node) *Node {
		return ArgMax(modelFn(scope, images), -1, dtypes.Int32)
	})
	if err != nil {
		t.Fatal(err)
	}
	correct, total := 0, 0
	for range 4 {
		images, labels := shapesBatch(rng, batch)
		pred, err := exec.Call1(tensors.FromFlatDataAndDimensions(images, batch, 32, 32, 3))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range tensors.MustCopyFlatData[int32](pred) {
			total++
			if p == labels[i] {
				correct++
			}
		}
	}
	if acc := float64(correct) / float64(total); acc < 0.95 {
		t.Errorf("accuracy after %d steps: %.3f, want >= 0.95", steps, acc)
	} else {
		t.Logf("accuracy after %d steps: %.3f", steps, acc)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	backend := testBackend(t)
	cfg := tinyBackbone(ArchResNet)
	modelFn := func(scope *model.Scope, images *Node) *Node {
		return ClassifierHead(scope, Backbone(scope, cfg, images)[3], 5)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	images := randTensor(rng, 2, 32, 32, 3)
	store := model.NewStore()
	// Train one step so that the batch-norm statistics and the weights move from their initial
	// values, and the optimizer creates state that must not be saved.
	trainer := train.NewTrainer(backend, store, modelFn, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.Adam().Done(), nil, nil)
	if _, err := trainer.TrainStep(train.Batch{
		Inputs: []*tensors.Tensor{randTensor(rng, 2, 32, 32, 3)},
		Labels: []*tensors.Tensor{tensors.FromValue([][]int32{{1}, {3}})},
	}); err != nil {
		t.Fatal(err)
	}
	before, err := model.CallOnce(backend, store, modelFn, images)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := SaveCheckpoint(store, dir, "/backbone", "/head"); err != nil {
		t.Fatal(err)
	}
	loaded := model.NewStore()
	if err := LoadCheckpoint(loaded, os.DirFS(dir), "."); err != nil {
		t.Fatal(err)
	}
	for v := range loaded.IterVariables() {
		if !inScopes(v.Path(), []string{"/backbone", "/head"}) {
			t.Errorf("checkpoint holds %s, outside the saved scopes", v.Path())
		}
	}
	after, err := model.CallOnce(backend, loaded, modelFn, images)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, flat(before), flat(after)); d != 0 {
		t.Errorf("outputs after save and load differ by %g", d)
	}

	// A model of another shape is refused with the variable named.
	other := model.NewStore()
	if _, err := model.CallOnce(backend, other, func(scope *model.Scope, images *Node) *Node {
		return ClassifierHead(scope, Backbone(scope, cfg, images)[3], 7)
	}, images); err != nil {
		t.Fatal(err)
	}
	if err := LoadCheckpoint(other, os.DirFS(dir), "."); err == nil {
		t.Error("loading a 5-class head into a 7-class model succeeded")
	}
	if err := SaveCheckpoint(store, dir); err == nil {
		t.Error("SaveCheckpoint without scopes succeeded")
	}
	if err := LoadCheckpoint(loaded, os.DirFS(t.TempDir()), "."); err == nil {
		t.Error("loading from an empty directory succeeded")
	}
}

func TestRelu(t *testing.T) {
	x := tensors.FromValue([]float32{-2, -0.5, 0, 0.5, 3})
	outs, err := CallOnceN(testBackend(t), func(x *Node) []*Node {
		y := Relu(x)
		return []*Node{y, Gradient(ReduceAllSum(Mul(y, Const(x.Graph(), []float32{1, 2, 3, 4, 5}))), x)[0]}
	}, x)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, flat(outs[0]), []float32{0, 0, 0, 0.5, 3}); d != 0 {
		t.Errorf("Relu = %v", flat(outs[0]))
	}
	if d := maxAbsDiff(t, flat(outs[1]), []float32{0, 0, 0, 4, 5}); d != 0 {
		t.Errorf("gradient of Relu = %v, want [0 0 0 4 5]", flat(outs[1]))
	}
}
