package nn

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
)

// MaxPool2D takes the maximum over k x k windows of x [B, H, W, C] moved by stride, padding with
// -inf by pad (low, high) on both spatial axes. Its gradient works on every backend: a 2x2/s2 pool
// without padding is a reshape and ReduceMax, any other one the maximum of k*k strided slices
// (the Go backend has no gradient for the MaxPool op).
func MaxPool2D(x *Node, k, stride int, pad [2]int) *Node {
	b, h, w, c := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	if k == stride && pad == [2]int{} && h%k == 0 && w%k == 0 {
		return ReduceMax(Reshape(x, b, h/k, k, w/k, k, c), 2, 4)
	}
	outH, outW := outSize(h, k, stride, pad), outSize(w, k, stride, pad)
	xp := padSpatial(x, pad, math.Inf(-1))
	var y *Node
	for i := range k {
		for j := range k {
			t := shifted(xp, i, j, stride, outH, outW)
			if y == nil {
				y = t
			} else {
				y = Max(y, t)
			}
		}
	}
	return y
}

// GlobalAvgPool averages x [B, H, W, C] over its spatial axes into [B, C].
func GlobalAvgPool(x *Node) *Node { return ReduceMean(x, 1, 2) }
