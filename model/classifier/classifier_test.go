package classifier

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/losses"
	"github.com/atelier-ml/atelier/train"
)

// halves is a two-class toy dataset of 28x28 grey images: class 1 ("Top") is bright in its top
// half, class 2 ("Bottom") in its bottom half, both with noise. A horizontal flip keeps the class.
func halves(nTrain, nTest int) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &dataset.Dataset{Format: dataset.FormatFashionMNIST, Vocab: fashion.Vocabulary{Categories: []fashion.Category{
		{ID: 1, Name: "Top"}, {ID: 2, Name: "Bottom"}}}}
	for i := range nTrain + nTest {
		class := 1 + i%2
		px := make([]uint8, 28*28)
		for y := range 28 {
			for x := range 28 {
				v := rng.IntN(100)
				if (y < 14) == (class == 1) {
					v += 120
				}
				px[y*28+x] = uint8(v)
			}
		}
		split := dataset.Train
		if i >= nTrain {
			split = dataset.Test
		}
		d.Samples = append(d.Samples, dataset.Sample{Image: fmt.Sprint(i), Width: 28, Height: 28, Split: split,
			Pixels: px, Garments: []dataset.Garment{{Category: class}}})
	}
	return d
}

func goBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainSaveLoadEval trains a tiny classifier, then checks that the bundle it wrote gives back
// exactly the figures measured right after training.
func TestTrainSaveLoadEval(t *testing.T) {
	backend := goBackend(t)
	d := halves(64, 32)
	out := t.TempDir()
	opts := Options{
		Out:     out,
		Config:  Config{Widths: []int{4, 8}, Blocks: 1},
		Train:   train.Config{BatchSize: 16, Steps: 24, LearningRate: 0.01, WarmupSteps: 2, Seed: 1},
		Dataset: "halves", Format: dataset.FormatFashionMNIST, Backend: "go",
	}
	got, err := Train(context.Background(), backend, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got.Accuracy < 0.9 || got.N != 32 {
		t.Errorf("accuracy %.3f on %d test images, want >= 0.9 on 32", got.Accuracy, got.N)
	}
	b, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	net, err := b.Network(model.TaskClassifier)
	if err != nil {
		t.Fatal(err)
	}
	if net.Training.Steps != 24 || net.Training.Samples != 64 || net.InputSize != [2]int{28, 28} || len(net.Metrics) == 0 {
		t.Errorf("bundle network %+v", net)
	}
	again, err := Evaluate(backend, b, d, dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	if again.Accuracy != got.Accuracy || fmt.Sprint(again.Confusion) != fmt.Sprint(got.Confusion) {
		t.Errorf("after loading: accuracy %v confusion %v; right after training: %v %v", again.Accuracy, again.Confusion, got.Accuracy, got.Confusion)
	}
	for _, f := range []string{train.CurvesPNG, train.CurvesJSON} {
		if _, err := os.Stat(filepath.Join(out, TrainingDir, f)); err != nil {
			t.Error(err)
		}
	}

	// Fine-tuning that network records where it started and the run it continued.
	tuned := opts
	tuned.Out = t.TempDir()
	tuned.Train.Seed = 2
	tuned.Train.InitFrom = out
	tuned.Train.Init = func(store *mlmodel.Store) error {
		_, err := b.LoadNetwork(model.TaskClassifier, store)
		return err
	}
	if _, err := Train(context.Background(), backend, d, tuned); err != nil {
		t.Fatal(err)
	}
	tb, err := model.Load(tuned.Out)
	if err != nil {
		t.Fatal(err)
	}
	rec := tb.Networks[model.TaskClassifier].Training
	if rec.InitializedFrom != out || len(rec.Earlier) != 1 || rec.Earlier[0].Seed != 1 || rec.Seed != 2 {
		t.Errorf("fine-tuned record %+v: want it to start from %s and hold the seed-1 run", rec, out)
	}
}

func TestBatch(t *testing.T) {
	im := &Images{Pixels: [][]uint8{{0, 255, 51, 102}}, Labels: []int32{3}, H: 2, W: 2,
		Norm: FashionMNISTNorm, Pad: 1}
	norm := func(v float64) float32 {
		return float32((v/255 - float64(FashionMNISTNorm.Mean[0])) / float64(FashionMNISTNorm.Std[0]))
	}
	inputs, labels, err := im.Batch([]int{0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{norm(0), norm(255), norm(51), norm(102)}
	got := tensors.MustCopyFlatData[float32](inputs[0])
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			t.Fatalf("pixels %v, want %v", got, want)
		}
	}
	if l := tensors.MustCopyFlatData[int32](labels[0]); l[0] != 3 {
		t.Errorf("label %v", l)
	}

	// Every augmented image is one of the 18 shifted (by -1..1) and possibly flipped versions.
	im.Augment = true
	rng := rand.New(rand.NewPCG(1, 1))
	zero := norm(0)
	for range 50 {
		inputs, _, err := im.Batch([]int{0}, rng)
		if err != nil {
			t.Fatal(err)
		}
		got := tensors.MustCopyFlatData[float32](inputs[0])
		found := false
		for dy := -1; dy <= 1 && !found; dy++ {
			for dx := -1; dx <= 1 && !found; dx++ {
				for _, flip := range []bool{false, true} {
					ok := true
					for y := range 2 {
						for x := range 2 {
							sx := x + dx
							if flip {
								sx = 1 - x + dx
							}
							w := zero
							if sy := y + dy; sy >= 0 && sy < 2 && sx >= 0 && sx < 2 {
								w = norm(float64(im.Pixels[0][sy*2+sx]))
							}
							ok = ok && math.Abs(float64(got[y*2+x]-w)) < 1e-5
						}
					}
					found = found || ok
				}
			}
		}
		if !found {
			t.Fatalf("augmented image %v is no shift or flip of the original", got)
		}
	}
}

// BenchmarkTrainStep measures one training step of the default network on a batch of 64
// Fashion-MNIST-sized images.
func BenchmarkTrainStep(b *testing.B) {
	backend := goBackend(b)
	set, err := NewImages(halves(64, 1).Samples, dataset.Train, FashionMNISTNorm)
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	store := train.InitStore(1)
	trainer := gtrain.NewTrainer(backend, store, func(scope *mlmodel.Scope, x *Node) *Node {
		return Logits(scope, cfg, x, 2)
	}, func(labels, predictions []*Node) *Node {
		return losses.Category(predictions[0], labels[0])
	}, optimizer.Adam().Done(), nil, nil)
	idx := make([]int, 64)
	for i := range idx {
		idx[i] = i
	}
	step := func() {
		in, lab, err := set.Batch(idx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := trainer.TrainStep(gtrain.Batch{Inputs: in, Labels: lab}); err != nil {
			b.Fatal(err)
		}
	}
	step() // compile
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}
