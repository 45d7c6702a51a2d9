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
