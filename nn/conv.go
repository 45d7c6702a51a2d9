package nn

import (
	"fmt"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// ConvBuilder configures a 2D convolution; create it with Conv2D and finish it with Done.
type ConvBuilder struct {
	scope       *model.Scope
	x           *Node
	outChannels int
	kernel      int
	stride      int
	groups      int
	same, bias  bool
	outScale    *Node // a per-output-channel multiplier folded into the kernel, or nil
}

// Conv2D starts a 2D convolution of x ([B, H, W, C]) to outChannels channels with a square
// kernel of the given size: stride 1, "same" padding, no groups, with bias. Its variables
// ("weights" [k, k, C/groups, outChannels] and "biases") live in the sub-scope "conv".
func Conv2D(scope *model.Scope, x *Node, outChannels, kernel int) *ConvBuilder {
	return &ConvBuilder{scope: scope, x: x, outChannels: outChannels, kernel: kernel, stride: 1, groups: 1, same: true, bias: true}
}

// Stride sets the stride on both spatial axes.
func (c *ConvBuilder) Stride(s int) *ConvBuilder { c.stride = s; return c }

// Groups splits the channels into g independent groups; g equal to the input channels is a
// depthwise convolution.
func (c *ConvBuilder) Groups(g int) *ConvBuilder { c.groups = g; return c }

// Valid disables padding: the kernel only visits positions where it fits entirely.
func (c *ConvBuilder) Valid() *ConvBuilder { c.same = false; return c }

// Bias sets whether a bias is added (off when a normalization follows).
func (c *ConvBuilder) Bias(b bool) *ConvBuilder { c.bias = b; return c }

// Done creates the variables and returns the convolved [B, H', W', outChannels] node. With "same"
// padding H' = ceil(H/stride); padding is symmetric for odd kernels, as in PyTorch.
func (c *ConvBuilder) Done() *Node {
	inC := c.x.Shape().Dim(-1)
	if c.groups < 1 || inC%c.groups != 0 || c.outChannels%c.groups != 0 {
		panic(fmt.Errorf("nn.Conv2D: %d groups do not divide %d input and %d output channels", c.groups, inC, c.outChannels))
	}
	scope := c.scope.In("conv")
	g := c.x.Graph()
	dtype := c.x.DType()
	kernel := scope.VariableWithShape("weights", shapes.Make(dtype, c.kernel, c.kernel, inC/c.groups, c.outChannels)).NodeValue(g)
	if c.outScale != nil {
		kernel = Mul(kernel, perChannel(c.outScale, 4))
	}
	pad := [2]int{}
	if c.same {
		pad = SamePadding(c.kernel)
	}
	y := Convolve2D(c.x, kernel, c.stride, pad, c.groups)
	if c.bias {
		b := scope.WithInitializer(initializer.Zero).VariableWithShape("biases", shapes.Make(dtype, c.outChannels)).NodeValue(g)
		y = Add(y, perChannel(b, y.Rank()))
	}
	return y
}

// SamePadding returns the (low, high) padding that keeps the size at stride 1: symmetric for odd
// kernels.
func SamePadding(kernel int) [2]int { return [2]int{(kernel - 1) / 2, kernel - 1 - (kernel-1)/2} }

// Convolve2D convolves x [B, H, W, C] with kernel [k, k, C/groups, O], padding both spatial axes by
// pad (low, high) zeros, and returns [B, H', W', O] with H' = (H+low+high-k)/stride + 1.
//
// On the Go backend it uses rowShiftConv at stride 1 and im2col otherwise (k*k strided slices
// concatenated on the channel axis and one matrix multiplication; a 1x1 kernel is a plain
// multiplication), and a sum of k*k shifted, per-channel products for depthwise kernels. Measured
// by go test -bench Conv3x3 ./nn/ (forward and backward): row shift 31 GFLOP/s, im2col 23,
// one matrix multiplication per tap 21, channels-first im2col 17, ConvGeneral 0.5. On other backends ungrouped convolutions with an odd
// kernel use the backend's ConvGeneral; the others use the same formulations as on the Go
// backend, because GoMLX (v0.28.2) has no gradient for grouped ConvGeneral and computes a shifted
// input gradient for even kernels.
func Convolve2D(x, kernel *Node, stride int, pad [2]int, groups int) *Node {
	inC, outC, k := x.Shape().Dim(-1), kernel.Shape().Dim(-1), kernel.Shape().Dim(0)
	switch {
	case groups == 1 && k%2 == 1 && !IsGoBackend(x.Graph().Backend()):
		return nativeConv(x, kernel, stride, pad)
	case groups == 1 && stride == 1 && k > 1:
		return rowShiftConv(x, kernel, pad)
	case groups == 1:
		return im2colConv(x, kernel, stride, pad)
	case groups == inC && outC == inC:
		return depthwiseConv(x, kernel, stride, pad)
	}
	// General groups: one convolution per group, concatenated.
	cg, og := inC/groups, outC/groups
	outs := make([]*Node, groups)
	for i := range outs {
		xi := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*cg, (i+1)*cg))
		ki := Slice(kernel, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*og, (i+1)*og))
		outs[i] = Convolve2D(xi, ki, stride, pad, 1)
	}
	return Concatenate(outs, -1)
}

// nativeConv is the backend's own convolution (XLA), NHWC with an HWIO kernel.
func nativeConv(x, kernel *Node, stride int, pad [2]int) *Node {
	axes := ConvolveAxesConfig{
		InputBatch: 0, InputSpatial: []int{1, 2}, InputChannels: 3,
		KernelSpatial: []int{0, 1}, KernelInputChannels: 2, KernelOutputChannels: 3,
		OutputBatch: 0, OutputSpatial: []int{1, 2}, OutputChannels: 3,
	}
	return ConvGeneral(x, kernel, axes, []int{stride, stride}, [][2]int{pad, pad}, nil, nil, 1, 1)
}

// padSpatial pads the two spatial axes of x with value, by concatenation: the backend's Pad has
// no gradient in GoMLX, and concatenation is a block copy on the Go backend.
func padSpatial(x *Node, pad [2]int, value float64) *Node {
	return padAxis(padAxis(x, 1, pad, value), 2, pad, value)
}

// padAxis pads one axis of x with pad (low, high) values, by concatenation.
func padAxis(x *Node, axis int, pad [2]int, value float64) *Node {
	strip := func(n int) *Node {
		dims := x.Shape().Clone().Dimensions
		dims[axis] = n
		return FillScalar(x.Graph(), shapes.Make(x.DType(), dims...), value)
	}
	parts := []*Node{x}
	if pad[0] > 0 {
		parts = append([]*Node{strip(pad[0])}, parts...)
	}
	if pad[1] > 0 {
		parts = append(parts, strip(pad[1]))
	}
	if len(parts) == 1 {
		return x
	}
	return Concatenate(parts, axis)
}

// shifted returns the (i, j) tap of a k x k window with the given stride over the already padded
// x: x[:, i::stride, j::stride, :] cut to outH x outW.
func shifted(x *Node, i, j, stride, outH, outW int) *Node {
	if i == 0 && j == 0 && stride == 1 && x.Shape().Dim(1) == outH && x.Shape().Dim(2) == outW {
		return x
	}
	return Slice(x, AxisRange(),
		AxisRange(i, i+(outH-1)*stride+1).Stride(stride),
		AxisRange(j, j+(outW-1)*stride+1).Stride(stride),
		AxisRange())
}

// outSize is the spatial output size of a k-window with stride over n padded by pad.
func outSize(n, k, stride int, pad [2]int) int { return (n+pad[0]+pad[1]-k)/stride + 1 }

func im2colConv(x, kernel *Node, stride int, pad [2]int) *Node {
	k, inC, outC := kernel.Shape().Dim(0), kernel.Shape().Dim(2), kernel.Shape().Dim(3)
	outH, outW := outSize(x.Shape().Dim(1), k, stride, pad), outSize(x.Shape().Dim(2), k, stride, pad)
	xp := padSpatial(x, pad, 0)
	taps := make([]*Node, 0, k*k)
	for i := range k {
		for j := range k {
			taps = append(taps, shifted(xp, i, j, stride, outH, outW))
		}
	}
	patches := taps[0]
	if len(taps) > 1 {
		patches = Concatenate(taps, -1)
	}
	// patches [B, outH, outW, k*k*C] in (i, j, c) order, which is the HWIO kernel's row order.
	return patchMatMul(patches, Reshape(kernel, k*k*inC, outC))
}

// rowShiftConv is a stride-1 convolution with half of im2col's copies: the k horizontal taps are
// concatenated on the channel axis ([B, H+pad, W', k*C]) and multiplied at every padded row by
// the kernel laid out as [k*C, k*O] (all k vertical taps at once), and output row r sums tap i of
// row r+i: k slices of the narrower output instead of k*k slices of the input.
func rowShiftConv(x, kernel *Node, pad [2]int) *Node {
	k, inC, outC := kernel.Shape().Dim(0), kernel.Shape().Dim(2), kernel.Shape().Dim(3)
	outH, outW := outSize(x.Shape().Dim(1), k, 1, pad), outSize(x.Shape().Dim(2), k, 1, pad)
	xp := padSpatial(x, pad, 0)
	hp := xp.Shape().Dim(1)
	taps := make([]*Node, k)
	for j := range taps {
		taps[j] = shifted(xp, 0, j, 1, hp, outW)
	}
	rows := Concatenate(taps, -1) // [B, hp, outW, k*C] in (j, c) order
	// [i, j, C, O] -> [j, C, i, O] -> [k*C, k*O].
	w := Reshape(TransposeAllAxes(kernel, 1, 2, 0, 3), k*inC, k*outC)
	z := Reshape(patchMatMul(rows, w), -1, hp, outW, k, outC)
	return shiftedTapSum(z, outH)
}

// shiftedTapSum returns y [B, outH, W, O] with y[:, r] = sum over i of z[:, r+i, :, i] for z
// [B, H, W, k, O]. Its gradient stacks the k row-shifted, zero-padded copies of dy on the tap
// axis in one concatenation; GoMLX's gradient of the k slices pads each to the full size of z and
// adds them up. Measured (go test -bench TrainStep ./nn/, interleaved runs): train step median
// 0.94 -> 0.88 s.
func shiftedTapSum(z *Node, outH int) *Node {
	hp, w, k, o := z.Shape().Dim(1), z.Shape().Dim(2), z.Shape().Dim(3), z.Shape().Dim(4)
	return withGradient(z, func(z *Node) *Node {
		var y *Node
		for i := range k {
			t := Slice(z, AxisRange(), AxisRange(i, i+outH), AxisRange(), AxisElem(i))
			if y == nil {
				y = t
			} else {
				y = Add(y, t)
			}
		}
		return Reshape(y, -1, outH, w, o)
	}, func(_, _, dy *Node) *Node {
		dy = Reshape(dy, -1, outH, w, 1, o)
		taps := make([]*Node, k)
		for i := range taps {
			taps[i] = padAxis(dy, 1, [2]int{i, hp - outH - i}, 0)
		}
		return Concatenate(taps, 3)
	})
}

// patchMatMul multiplies patches [B, H, W, K] by w [K, O] into [B, H, W, O], with a weight
// gradient that transposes only the smaller of patches and output gradient. GoMLX's own gradient
// of w contracts both over their leading axes, which the Go backend's matmul cannot do in place:
// it transposes both, and the patches of a k x k kernel are k*k times larger than the output
// gradient. Here dW^T [O, K] = dY^T [O, N] x patches [N, K] (or dW = patches^T x dY when K < O)
// is a plain matmul after one transposition (measured: train step 1.72 -> 1.32 s).
func patchMatMul(patches, w *Node) *Node {
	n, k, o := patches.Shape().Size()/patches.Shape().Dim(-1), w.Shape().Dim(0), w.Shape().Dim(1)
	return withGradient(w, func(w *Node) *Node {
		return DotGeneral(patches, []int{3}, nil, w, []int{0}, nil)
	}, func(_, _, dy *Node) *Node {
		p, d := Reshape(patches, n, k), Reshape(dy, n, o)
		if k < o { // transpose the smaller of the two
			return DotGeneral(Transpose(p, 0, 1), []int{1}, nil, d, []int{0}, nil)
		}
		return Transpose(DotGeneral(Transpose(d, 0, 1), []int{1}, nil, p, []int{0}, nil), 0, 1)
	})
}

// withGradient returns y = f(x) whose gradient with respect to x is grad(x, y, dy) given the
// gradient dy of y, instead of the one GoMLX derives through f: the Go backend's dead code
// elimination drops that unused derivation. Autodiff reaches y before x, so dy is known by then.
func withGradient(x *Node, f func(x *Node) *Node, grad func(x, y, dy *Node) *Node) *Node {
	var y, dy *Node
	xc := IdentityWithCustomGradient(x, func(_, v *Node) *Node {
		if dy == nil { // not reached through y: keep GoMLX's gradient
			return v
		}
		return grad(x, y, dy)
	})
	y = f(xc)
	return IdentityWithCustomGradient(y, func(_, v *Node) *Node { dy = v; return v })
}

func depthwiseConv(x, kernel *Node, stride int, pad [2]int) *Node {
	k, c := kernel.Shape().Dim(0), kernel.Shape().Dim(3)
	outH, outW := outSize(x.Shape().Dim(1), k, stride, pad), outSize(x.Shape().Dim(2), k, stride, pad)
	xp := padSpatial(x, pad, 0)
	var y *Node
	for i := range k {
		for j := range k {
			w := Reshape(Slice(kernel, AxisElem(i), AxisElem(j)), 1, 1, 1, c)
			t := Mul(shifted(xp, i, j, stride, outH, outW), w)
			if y == nil {
				y = t
			} else {
				y = Add(y, t)
			}
		}
	}
	return y
}
