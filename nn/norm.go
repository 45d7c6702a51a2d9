package nn

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// BatchNorm hyperparameters, the PyTorch defaults.
const (
	BatchNormMomentum = 0.1
	BatchNormEpsilon  = 1e-5
)

// BatchNorm normalizes x [..., C] per channel (the last axis) and applies a learned scale and
// offset. In training (Store.IsTraining) it uses the batch statistics and updates the running mean
// and variance (momentum BatchNormMomentum, unbiased variance, as PyTorch does); otherwise it uses
// the running statistics. It is built from reductions and elementwise operations, so it needs no
// backend BatchNorm op. Variables ("scale", "offset", "mean", "variance") live in "batch_norm".
func BatchNorm(scope *model.Scope, x *Node) *Node {
	g := x.Graph()
	c := x.Shape().Dim(-1)
	if !scope.IsTraining(g) {
		mul, add := batchNormFold(scope, g, x.DType(), c)
		return Add(Mul(x, perChannel(mul, x.Rank())), perChannel(add, x.Rank()))
	}
	scale, offset, meanVar, varVar := batchNormVars(scope, g, x.DType(), c)
	n := x.Shape().Size() / c
	// The gradient is written out: GoMLX's derivation sums over N with the Go backend's
	// ReduceSum, a scalar loop on one core, and takes about twice as many passes over x.
	// Measured (go test -bench TrainStep ./nn/, interleaved runs on a loaded 2-core machine):
	// train step 1081-1125 -> 933-963 ms.
	var mean, variance, centered, inv *Node
	y := withGradients([]*Node{Reshape(x, n, c), scale, offset}, func(in []*Node) *Node {
		mean = MulScalar(sumRows(in[0]), 1/float64(n))
		centered = Sub(in[0], perChannel(mean, 2))
		variance = MulScalar(sumRows(Square(centered)), 1/float64(n))
		inv = Div(ScalarOne(g, x.DType()), Sqrt(AddScalar(variance, BatchNormEpsilon)))
		return Add(Mul(centered, perChannel(Mul(in[1], inv), 2)), perChannel(in[2], 2))
	}, func(in []*Node, _, dy *Node) []*Node {
		// With x^ = centered*inv and mul = scale*inv:
		// dx = mul*dy - mul*sum(dy)/n - centered*mul*inv^2*sum(dy*centered)/n.
		sumDy, sumDyC := sumRows(dy), sumRows(Mul(dy, centered))
		mul := Mul(in[1], inv)
		a := MulScalar(Mul(mul, Mul(Square(inv), sumDyC)), -1/float64(n))
		b := MulScalar(Mul(mul, sumDy), -1/float64(n))
		dx := Add(Mul(dy, perChannel(mul, 2)), Add(Mul(centered, perChannel(a, 2)), perChannel(b, 2)))
		return []*Node{dx, Mul(sumDyC, inv), sumDy}
	})

	unbiased := variance
	if n > 1 {
		unbiased = MulScalar(variance, float64(n)/float64(n-1))
	}
	for _, u := range []struct {
		v     *model.Variable
		batch *Node
	}{{meanVar, mean}, {varVar, unbiased}} {
		old := u.v.NodeValue(g)
		u.v.SetNodeValue(Add(MulScalar(old, 1-BatchNormMomentum), MulScalar(StopGradient(u.batch), BatchNormMomentum)))
	}
	return Reshape(y, x.Shape().Dimensions...)
}

// batchNormVars creates or fetches BatchNorm's variables for c channels in scope's sub-scope
// "batch_norm": the values of scale and offset, and the running mean and variance.
func batchNormVars(scope *model.Scope, g *Graph, dtype dtypes.DType, c int) (scale, offset *Node, mean, variance *model.Variable) {
	scope = scope.In("batch_norm")
	vshape := shapes.Make(dtype, c)
	scale = scope.WithInitializer(initializer.One).VariableWithShape("scale", vshape).NodeValue(g)
	offset = scope.WithInitializer(initializer.Zero).VariableWithShape("offset", vshape).NodeValue(g)
	mean = scope.WithInitializer(initializer.Zero).VariableWithShape("mean", vshape).SetTrainable(false)
	variance = scope.WithInitializer(initializer.One).VariableWithShape("variance", vshape).SetTrainable(false)
	return scale, offset, mean, variance
}

// batchNormFold returns BatchNorm's inference as one per-channel multiply-add, y = x*mul + add,
// from the running statistics.
func batchNormFold(scope *model.Scope, g *Graph, dtype dtypes.DType, c int) (mul, add *Node) {
	scale, offset, mean, variance := batchNormVars(scope, g, dtype, c)
	mul = Mul(scale, Rsqrt(AddScalar(variance.NodeValue(g), BatchNormEpsilon)))
	return mul, Sub(offset, Mul(mean.NodeValue(g), mul))
}

// sumRows sums x [N, C] over N into [C] as a multiplication by a row of ones, which the Go
// backend runs on its SIMD matrix kernels on every core where ReduceSum is a scalar loop on one.
// Measured in BatchNorm (go test -bench TrainStep ./nn/): train step 0.80-0.87 s with
// ReduceMean, 0.75-0.79 s with it.
func sumRows(x *Node) *Node {
	n, c := x.Shape().Dim(0), x.Shape().Dim(1)
	ones := Ones(x.Graph(), shapes.Make(x.DType(), 1, n))
	return Reshape(DotGeneral(ones, []int{1}, nil, x, []int{0}, nil), c)
}

// LayerNorm normalizes x [..., C] over its last axis (each position of a feature map on its own)
// with a learned per-channel scale and offset, in the sub-scope "layer_norm".
func LayerNorm(scope *model.Scope, x *Node) *Node {
	return groupNorm(scope.In("layer_norm"), x, 1, []int{x.Rank() - 1})
}

// GroupNorm normalizes x [B, H, W, C] over the spatial axes and groups of C/groups channels, with
// a learned per-channel scale and offset, in the sub-scope "group_norm". It does not depend on the
// batch, so it suits small batches.
func GroupNorm(scope *model.Scope, x *Node, groups int) *Node {
	return groupNorm(scope.In("group_norm"), x, groups, []int{1, 2, 4})
}

// groupNorm splits the last axis of x into groups and normalizes over axes of the split shape.
func groupNorm(scope *model.Scope, x *Node, groups int, axes []int) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	c := dims[len(dims)-1]
	vshape := shapes.Make(x.DType(), c)
	scale := scope.WithInitializer(initializer.One).VariableWithShape("scale", vshape).NodeValue(g)
	offset := scope.WithInitializer(initializer.Zero).VariableWithShape("offset", vshape).NodeValue(g)
	split := x
	if groups > 1 {
		split = Reshape(x, append(append([]int{}, dims[:len(dims)-1]...), groups, c/groups)...)
	}
	mean := ReduceAndKeep(split, ReduceMean, axes...)
	centered := Sub(split, mean)
	variance := ReduceAndKeep(Square(centered), ReduceMean, axes...)
	y := Reshape(Div(centered, Sqrt(AddScalar(variance, BatchNormEpsilon))), dims...)
	return Add(Mul(y, perChannel(scale, len(dims))), perChannel(offset, len(dims)))
}

// perChannel reshapes a per-channel vector [C] to rank axes [1, ..., 1, C], to broadcast it over
// a channels-last tensor (GoMLX only broadcasts between equal ranks).
func perChannel(v *Node, rank int) *Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[rank-1] = v.Shape().Dim(0)
	return Reshape(v, dims...)
}
