package nn

import (
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
	scope = scope.In("batch_norm")
	g := x.Graph()
	c := x.Shape().Dim(-1)
	vshape := shapes.Make(x.DType(), c)
	scale := scope.WithInitializer(initializer.One).VariableWithShape("scale", vshape).NodeValue(g)
	offset := scope.WithInitializer(initializer.Zero).VariableWithShape("offset", vshape).NodeValue(g)
	meanVar := scope.WithInitializer(initializer.Zero).VariableWithShape("mean", vshape).SetTrainable(false)
	varVar := scope.WithInitializer(initializer.One).VariableWithShape("variance", vshape).SetTrainable(false)

	if !scope.IsTraining(g) {
		// Fold everything into one multiply-add per element.
		mul := Mul(scale, Rsqrt(AddScalar(varVar.NodeValue(g), BatchNormEpsilon)))
		add := Sub(offset, Mul(meanVar.NodeValue(g), mul))
		return Add(Mul(x, perChannel(mul, x.Rank())), perChannel(add, x.Rank()))
	}
	n := x.Shape().Size() / c
	flat := Reshape(x, n, c)
	mean := ReduceMean(flat, 0)
	centered := Sub(flat, perChannel(mean, 2))
	variance := ReduceMean(Square(centered), 0)
	mul := Div(scale, Sqrt(AddScalar(variance, BatchNormEpsilon)))
	y := Add(Mul(centered, perChannel(mul, 2)), perChannel(offset, 2))

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
