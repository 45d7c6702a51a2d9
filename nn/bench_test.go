package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// BenchmarkTrainStep times one training step of the default backbone at the size of `atelier
// bench train-step`, for profiling: go test -run XXX -bench TrainStep -benchtime 3x -cpuprofile.
func BenchmarkTrainStep(b *testing.B) {
	const batch, input = 32, 128
	backend, _, err := NewBackend() // GOMLX_BACKEND, or the Go backend as atelier configures it
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultBackbone()
	cfg.InputSize = input
	store := model.NewStore()
	modelFn := func(scope *model.Scope, images *graph.Node) *graph.Node {
		return ClassifierHead(scope, Backbone(scope, cfg, images)[3], 10)
	}
	trainer := train.NewTrainer(backend, store, modelFn, loss.SparseCategoricalCrossEntropyLogits,
		optimizer.Adam().Done(), nil, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	images := make([]float32, batch*input*input*3)
	for i := range images {
		images[i] = rng.Float32()
	}
	labels := make([]int32, batch)
	step := func() {
		_, err := trainer.TrainStep(train.Batch{
			Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(slices.Clone(images), batch, input, input, 3)},
			Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(slices.Clone(labels), batch, 1)},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}

// BenchmarkInfer times the inference of the default backbone at the size of `atelier bench infer
// --input 224`, for profiling like BenchmarkTrainStep.
func BenchmarkInfer(b *testing.B) {
	const batch, input = 32, 224
	backend, _, err := NewBackend()
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultBackbone()
	cfg.InputSize = input
	exec, err := model.NewExec(backend, model.NewStore(), func(scope *model.Scope, images *graph.Node) *graph.Node {
		return ClassifierHead(scope, Backbone(scope, cfg, images)[3], 10)
	})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	images := make([]float32, batch*input*input*3)
	for i := range images {
		images[i] = rng.Float32()
	}
	x := tensors.FromFlatDataAndDimensions(images, batch, input, input, 3)
	step := func() {
		out, err := exec.Call(x)
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range out {
			t.MustFinalizeAll()
		}
	}
	step()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}

// tapSumConv is the alternative formulation of a stride-1 convolution measured against im2col:
// one matrix multiplication per kernel tap on the shifted input, summed.
func tapSumConv(x, kernel *graph.Node, pad [2]int) *graph.Node {
	k, c, o := kernel.Shape().Dim(0), kernel.Shape().Dim(2), kernel.Shape().Dim(3)
	outH, outW := outSize(x.Shape().Dim(1), k, 1, pad), outSize(x.Shape().Dim(2), k, 1, pad)
	xp := padSpatial(x, pad, 0)
	var y *graph.Node
	for i := range k {
		for j := range k {
			w := graph.Reshape(graph.Slice(kernel, graph.AxisElem(i), graph.AxisElem(j)), c, o)
			t := graph.DotGeneral(shifted(xp, i, j, 1, outH, outW), []int{3}, nil, w, []int{0}, nil)
			if y == nil {
				y = t
			} else {
				y = graph.Add(y, t)
			}
		}
	}
	return y
}

// channelsFirstConv is the channels-first ([C, B, H, W]) im2col measured against the channels-last
// one: y[O, N] = W[O, K] x patches[K, N], whose gradients need no transposition of activations
// (dW = dy x patches^T is the backend's transposed layout; dpatches = W^T x dy transposes W only).
// Here x is transposed from channels-last, which adds one transposition of x to each direction of
// what is timed: a network kept channels-first would not pay it.
func channelsFirstConv(x, kernel *graph.Node, pad [2]int) *graph.Node {
	k, c, o := kernel.Shape().Dim(0), kernel.Shape().Dim(2), kernel.Shape().Dim(3)
	xc := graph.TransposeAllDims(x, 3, 0, 1, 2) // [C, B, H, W]
	b, h, w := xc.Shape().Dim(1), xc.Shape().Dim(2), xc.Shape().Dim(3)
	outH, outW := outSize(h, k, 1, pad), outSize(w, k, 1, pad)
	// Pad H and W (axes 2, 3) by concatenation.
	for axis := 2; axis <= 3; axis++ {
		dims := xc.Shape().Clone().Dimensions
		dims[axis] = pad[0]
		z := graph.Zeros(xc.Graph(), shapes.Make(xc.DType(), dims...))
		dims[axis] = pad[1]
		xc = graph.Concatenate([]*graph.Node{z, xc, graph.Zeros(xc.Graph(), shapes.Make(xc.DType(), dims...))}, axis)
	}
	var taps []*graph.Node
	for i := range k {
		for j := range k {
			taps = append(taps, graph.Slice(xc, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(i, i+outH), graph.AxisRange(j, j+outW)))
		}
	}
	patches := graph.Reshape(graph.Concatenate(taps, 0), k*k*c, b*outH*outW)  // [K, N]
	wt := graph.Reshape(graph.TransposeAllDims(kernel, 3, 0, 1, 2), o, k*k*c) // [O, K]
	return graph.Reshape(graph.DotGeneral(wt, []int{1}, nil, patches, []int{0}, nil), o, b, outH, outW)
}

// BenchmarkConv3x3 times the forward and backward pass (gradients of input and kernel) of a 3x3
// convolution, 64 to 64 channels on 32 16x16 maps (the patch backbone's second stage at 128 px),
// in the formulations Convolve2D could use on the Go backend.
func BenchmarkConv3x3(b *testing.B) {
	formulations := []struct {
		name string
		conv func(x, kernel *graph.Node) *graph.Node
	}{
		{"im2col", func(x, k *graph.Node) *graph.Node { return im2colConv(x, k, 1, SamePadding(3), true) }},
		{"row-shift", func(x, k *graph.Node) *graph.Node { return rowShiftConv(x, k, SamePadding(3), true) }},
		{"tap-sum", func(x, k *graph.Node) *graph.Node { return tapSumConv(x, k, SamePadding(3)) }},
		{"im2col-channels-first", func(x, k *graph.Node) *graph.Node { return channelsFirstConv(x, k, SamePadding(3)) }},
		{"ConvGeneral", func(x, k *graph.Node) *graph.Node { return nativeConv(x, k, 1, SamePadding(3)) }},
	}
	benchConv(b, formulations, 32, 16, 64, 3, 64)
}

// BenchmarkConv1x1 times forward and backward of a 1x1 convolution, 128 to 64 channels on 32
// 16x16 maps, as a plain matrix multiplication and as ConvGeneral.
func BenchmarkConv1x1(b *testing.B) {
	formulations := []struct {
		name string
		conv func(x, kernel *graph.Node) *graph.Node
	}{
		{"matmul", func(x, k *graph.Node) *graph.Node { return im2colConv(x, k, 1, [2]int{}, true) }},
		{"ConvGeneral", func(x, k *graph.Node) *graph.Node { return nativeConv(x, k, 1, [2]int{}) }},
	}
	benchConv(b, formulations, 32, 16, 128, 1, 64)
}

func benchConv(b *testing.B, formulations []struct {
	name string
	conv func(x, kernel *graph.Node) *graph.Node
}, batch, size, inC, k, outC int) {
	// Ops run one at a time: with the default parallel execution, four or more large matrix
	// multiplications ready at once (the tap sum has nine) deadlock the worker pool of the Go
	// backend (compute v0.1.2: each waits in Saturate for a slot the others hold).
	backend, err := gobackend.New("ops_sequential")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x, kernel := randTensor(rng, batch, size, size, inC), randTensor(rng, k, k, inC, outC)
	for _, f := range formulations {
		b.Run(f.name, func(b *testing.B) {
			exec, err := graph.NewExec(backend, func(x, kernel *graph.Node) []*graph.Node {
				y := f.conv(x, kernel)
				return graph.Gradient(graph.ReduceAllSum(graph.Square(y)), x, kernel)
			})
			if err != nil {
				b.Fatal(err)
			}
			run := func() {
				out, err := exec.Call(x, kernel)
				if err != nil {
					b.Fatal(err)
				}
				for _, t := range out {
					t.MustFinalizeAll()
				}
			}
			run()
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			flops := 3 * 2 * float64(batch*size*size*outC*k*k*inC)
			b.ReportMetric(flops/1e9/(b.Elapsed().Seconds()/float64(b.N)), "GFLOP/s")
		})
	}
}
