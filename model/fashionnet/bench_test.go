package fashionnet

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// BenchmarkTrainStep measures one training step of the default FashionNet (128x128 crops) at
// batch 32 on synthetic attribute and In-shop data, every loss term on; the batch is built
// beforehand (train.Run builds the next one in parallel with the step). It uses the backend
// nn.NewBackend picks (GOMLX_BACKEND).
func BenchmarkTrainStep(b *testing.B) {
	backend, _, err := nn.NewBackend()
	if err != nil {
		b.Fatal(err)
	}
	sets := synthSets(b, filepath.Join(b.TempDir(), "data"), 200, 9)
	cfg := DefaultConfig()
	vocab, err := Vocabulary(sets)
	if err != nil {
		b.Fatal(err)
	}
	na := attributeOutputs(len(vocab.Attributes))
	ex := NewExamples(cfg, na, sets, dataset.Train)
	ex.Augment = true
	idx := rand.New(rand.NewPCG(1, 2)).Perm(ex.Len())[:32]
	inputs, labels, err := ex.Batch(idx, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		b.Fatal(err)
	}
	batch := gtrain.Batch{Inputs: inputs, Labels: labels}
	pos, neg := make([]float32, na), make([]float32, na)
	terms := objective(cfg, pos, neg)
	trainer := gtrain.NewTrainer(backend, train.InitStore(1), trainModel(cfg, len(vocab.Categories), na, ex.Items()), lossFn(cfg, terms),
		optimizer.Adam().Done(), nil, nil)
	if _, err := trainer.TrainStep(batch); err != nil { // compiles the graph
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := trainer.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch measures building one augmented training batch of 64 crops of 160x160 px (decode,
// random crop, flip, colour jitter, tensors) on all cores: on a GPU, this Go side sets the pace of
// training. It reports images/s.
func BenchmarkBatch(b *testing.B) {
	sets := synthSets(b, filepath.Join(b.TempDir(), "data"), 400, 9)
	cfg := DefaultConfig()
	cfg.Backbone.InputSize = 160
	vocab, err := Vocabulary(sets)
	if err != nil {
		b.Fatal(err)
	}
	ex := NewExamples(cfg, attributeOutputs(len(vocab.Attributes)), sets, dataset.Train)
	ex.Augment = true
	rng := rand.New(rand.NewPCG(3, 4))
	const batch = 64
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := ex.Batch(rng.Perm(ex.Len())[:batch], rng); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}
