package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/atelier-ml/atelier/nn"
)

func init() {
	registerBenchmark("train-step", "one training step (forward, backward, Adam) of the default backbone with a 50-class head [--batch 32 --input 128 --steps 5 --arch patch|resnet]", benchTrainStep)
	registerBenchmark("infer", "one inference batch of the default backbone with a 50-class head [--batch 32 --input 128 --steps 5 --arch patch|resnet]", benchInfer)
}

// benchClasses is the size of the classification head of the benchmarks (the DeepFashion categories).
const benchClasses = 50

// nnBenchResult is what the nn benchmarks print; bench/pytorch_twin.py prints the same fields.
type nnBenchResult struct {
	Backend         string  `json:"backend"`
	Arch            string  `json:"arch"`
	Batch           int     `json:"batch"`
	Input           int     `json:"input"`
	GFLOPPerStep    float64 `json:"gflop_per_step"`
	SecondsPerStep  float64 `json:"seconds_per_step"`
	ImagesPerSecond float64 `json:"images_per_second"`
	Steps           int     `json:"steps"`
}

type nnBenchArgs struct {
	batch, input, steps int
	cfg                 nn.BackboneConfig
}

func parseNNBenchArgs(name string, args []string) (nnBenchArgs, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a := nnBenchArgs{cfg: nn.DefaultBackbone()}
	fs.IntVar(&a.batch, "batch", 32, "images per step")
	fs.IntVar(&a.input, "input", a.cfg.InputSize, "input side in pixels (a multiple of 32)")
	fs.IntVar(&a.steps, "steps", 5, "timed steps after warm-up (at least 5)")
	arch := fs.String("arch", a.cfg.Arch, "backbone architecture: patch or resnet")
	if err := fs.Parse(args); err != nil {
		return a, badInput(err)
	}
	if *arch == nn.ArchResNet {
		a.cfg = nn.ResNetBackbone()
	} else {
		a.cfg.Arch = *arch
	}
	a.cfg.InputSize = a.input
	if err := a.cfg.Validate(); err != nil {
		return a, badInput(err)
	}
	if a.batch < 1 || a.steps < 5 {
		return a, badInputf("--batch must be >= 1 and --steps >= 5")
	}
	return a, nil
}

// nnBench is what the nn benchmarks share: their arguments, the backend, and the backbone with
// a benchClasses head on a fresh store, with its forward FLOPs.
type nnBench struct {
	nnBenchArgs
	backend compute.Backend
	config  string // the backend's name and configuration
	store   *model.Store
	modelFn func(*model.Scope, *graph.Node) *graph.Node
	flops   float64
}

// newNNBench parses the arguments of the benchmark name and sets it up.
func newNNBench(name string, args []string) (*nnBench, error) {
	a, err := parseNNBenchArgs(name, args)
	if err != nil {
		return nil, err
	}
	b := &nnBench{nnBenchArgs: a, store: model.NewStore()}
	if b.backend, b.config, err = nn.NewBackend(); err != nil {
		return nil, err
	}
	b.modelFn = func(scope *model.Scope, images *graph.Node) *graph.Node {
		return nn.ClassifierHead(scope, nn.Backbone(scope, a.cfg, images)[3], benchClasses)
	}
	if b.flops, err = forwardFLOPs(b.backend, b.store, b.modelFn, a); err != nil {
		return nil, err
	}
	return b, nil
}

func benchTrainStep(ctx context.Context, args []string, progress io.Writer) (any, error) {
	b, err := newNNBench("train-step", args)
	if err != nil {
		return nil, err
	}
	a := b.nnBenchArgs
	trainer := train.NewTrainer(b.backend, b.store, b.modelFn, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.Adam().LearningRate(1e-3).Done(), nil, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	images, labels := benchImages(rng, a), benchLabels(rng, a.batch)
	secs, err := timeSteps(ctx, a.steps, progress, func() error {
		_, err := trainer.TrainStep(train.Batch{
			Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(slices.Clone(images), a.batch, a.input, a.input, 3)},
			Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(slices.Clone(labels), a.batch, 1)},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	// A training step is counted as three forward passes (forward, gradients of activations and of weights).
	return newNNBenchResult(b.config, a, 3*b.flops, secs), nil
}

func benchInfer(ctx context.Context, args []string, progress io.Writer) (any, error) {
	b, err := newNNBench("infer", args)
	if err != nil {
		return nil, err
	}
	a := b.nnBenchArgs
	exec, err := model.NewExec(b.backend, b.store, b.modelFn)
	if err != nil {
		return nil, err
	}
	images := tensors.FromFlatDataAndDimensions(benchImages(rand.New(rand.NewPCG(1, 2)), a), a.batch, a.input, a.input, 3)
	secs, err := timeSteps(ctx, a.steps, progress, func() error {
		out, err := exec.Call(images)
		for _, t := range out {
			t.MustFinalizeAll()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return newNNBenchResult(b.config, a, b.flops, secs), nil
}

func newNNBenchResult(backend string, a nnBenchArgs, flops, secs float64) nnBenchResult {
	return nnBenchResult{
		Backend: backend, Arch: a.cfg.Arch, Batch: a.batch, Input: a.input, Steps: a.steps,
		GFLOPPerStep:    math.Round(flops/1e7) / 100,
		SecondsPerStep:  secs,
		ImagesPerSecond: math.Round(float64(a.batch)/secs*10) / 10,
	}
}

// timeSteps runs step twice to warm up (compilation, buffer pools), then n timed times, and
// returns the median seconds.
func timeSteps(ctx context.Context, n int, progress io.Writer, step func() error) (float64, error) {
	const warmup = 2
	var times []float64
	for i := range warmup + n {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := step(); err != nil {
			return 0, err
		}
		d := time.Since(start).Seconds()
		kind := "warm-up"
		if i >= warmup {
			times = append(times, d)
			kind = "timed"
		}
		fmt.Fprintf(progress, "  step %d/%d (%s): %.3fs\n", i+1, warmup+n, kind, d)
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// forwardFLOPs builds (without running) the forward graph and adds up its matrix multiplications
// and convolutions: 2 * output size * contracted size.
func forwardFLOPs(backend compute.Backend, store *model.Store, modelFn func(*model.Scope, *graph.Node) *graph.Node, a nnBenchArgs) (float64, error) {
	exec, err := model.NewExec(backend, store, modelFn)
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	g, err := exec.Compile(shapes.Make(dtypes.Float32, a.batch, a.input, a.input, 3))
	if err != nil {
		return 0, fmt.Errorf("building the forward graph: %w", err)
	}
	var flops float64
	for _, n := range g.Nodes() {
		in := n.Inputs()
		switch n.Type() {
		case graph.NodeTypeDotGeneral:
			// Batch-free products in these graphs: lhs [N, K], rhs [K, M], out [N, M].
			k := math.Sqrt(float64(in[0].Shape().Size()) * float64(in[1].Shape().Size()) / float64(n.Shape().Size()))
			flops += 2 * float64(n.Shape().Size()) * k
		case graph.NodeTypeConvGeneral:
			kernel := in[1].Shape()
			flops += 2 * float64(n.Shape().Size()) * float64(kernel.Size()/kernel.Dim(-1))
		}
	}
	return flops, nil
}

func benchImages(rng *rand.Rand, a nnBenchArgs) []float32 {
	images := make([]float32, a.batch*a.input*a.input*3)
	for i := range images {
		images[i] = rng.Float32()*2 - 1
	}
	return images
}

func benchLabels(rng *rand.Rand, batch int) []int32 {
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(benchClasses))
	}
	return labels
}
