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
	y := convolve(c.x, kernel, c.stride, pad, c.groups, scope.IsTraining(g))
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
// On the Go backend it uses rowShiftConv at stride 1, patchifyConv for non-overlapping patches
// (kernel = stride, no padding), im2col otherwise (k*k strided slices concatenated on the channel
// axis and one matrix multiplication; a 1x1 kernel is a plain multiplication), and a sum of k*k
// shifted, per-channel products for depthwise kernels. Measured by go test -bench Conv3x3 ./nn/
// (forward and backward): row shift 31 GFLOP/s, im2col 23, one matrix multiplication per tap 21,
// channels-first im2col 17, ConvGeneral 0.5. On other backends ungrouped convolutions with an odd
// kernel use the backend's ConvGeneral; the others use the same formulations as on the Go
// backend, because GoMLX (v0.28.2) has no gradient for grouped ConvGeneral and computes a shifted
// input gradient for even kernels.
//
// The formulations write their gradients out (withGradients) instead of letting GoMLX derive
// them, because on the Go backend the derived ones are dominated by copies: every DotGeneral
// gradient ends in a Transpose (even an identity one, which the backend still runs as an
// element-by-element copy), and the gradients of slices and concatenations are pads, slices and
// sums of full-size tensors. Measured on a loaded 2-core machine, interleaved runs, forward and
// backward: 3x3 row shift 71-78 -> 56-59 ms (go test -bench Conv3x3), 1x1 24-25 -> 11-12 ms
// (Conv1x1), train step of the default backbone 1150-1204 -> 982-1058 ms (TrainStep).
func Convolve2D(x, kernel *Node, stride int, pad [2]int, groups int) *Node {
	return convolve(x, kernel, stride, pad, groups, true)
}

// convolve is Convolve2D; with train false the formulations leave their gradients to GoMLX, for
// inference: the identity nodes that carry written-out gradients copy every input that another
// operation also reads, such as the input images or a block's input kept for its shortcut (2% of
// the inference time at 224 px).
func convolve(x, kernel *Node, stride int, pad [2]int, groups int, train bool) *Node {
	inC, outC, k := x.Shape().Dim(-1), kernel.Shape().Dim(-1), kernel.Shape().Dim(0)
	switch {
	case groups == 1 && k%2 == 1 && !IsGoBackend(x.Graph().Backend()):
		return nativeConv(x, kernel, stride, pad)
	case groups == 1 && stride == 1 && k > 1:
		return rowShiftConv(x, kernel, pad, train)
	case groups == 1 && k == stride && k > 1 && pad == [2]int{} && x.Shape().Dim(1)%k == 0 && x.Shape().Dim(2)%k == 0:
		return patchifyConv(x, kernel, train)
	case groups == 1:
		return im2colConv(x, kernel, stride, pad, train)
	case groups == inC && outC == inC:
		return depthwiseConv(x, kernel, stride, pad)
	}
	// General groups: one convolution per group, concatenated.
	cg, og := inC/groups, outC/groups
	outs := make([]*Node, groups)
	for i := range outs {
		xi := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*cg, (i+1)*cg))
		ki := Slice(kernel, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*og, (i+1)*og))
		outs[i] = convolve(xi, ki, stride, pad, 1, train)
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

// zeroPadAxis pads one axis of x with pad (low, high) zeros using the backend's Pad, a zero fill
// and block copies, for gradients only: GoMLX has no gradient for Pad.
func zeroPadAxis(x *Node, axis int, pad [2]int) *Node {
	if pad == [2]int{} {
		return x
	}
	axes := make([]PadAxis, x.Rank())
	axes[axis] = PadAxis{Start: pad[0], End: pad[1]}
	return Pad(x, ScalarZero(x.Graph(), x.DType()), axes...)
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

func im2colConv(x, kernel *Node, stride int, pad [2]int, train bool) *Node {
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
	return patchMatMul(patches, Reshape(kernel, k*k*inC, outC), train)
}

// patchifyConv is a convolution over non-overlapping k x k patches (kernel = stride, no padding)
// that slices whole patch rows: x [B, H, W, C] seen as [B, H/k, k, W/k, k*C] holds row i of every
// patch contiguously, so k slices of it concatenated are the patches where im2col takes k*k
// strided slices. Its input gradient multiplies dy by each row's kernel block and interleaves the
// k results by concatenation, without any slice; GoMLX's would slice the patch gradient k*k times
// and pad each slice to the size of x. Measured against im2col (forward and backward, batch 32,
// loaded 2-core machine): 4x4/s4 stem at 128 px 70-78 -> 32-34 ms, 2x2/s2 64 -> 128 channels at
// 32 px 57-70 -> 36-37 ms.
func patchifyConv(x, kernel *Node, train bool) *Node {
	k, inC, outC := kernel.Shape().Dim(0), kernel.Shape().Dim(2), kernel.Shape().Dim(3)
	b, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	n, rowC := b*(h/k)*(w/k), k*inC
	var patches, wm *Node
	return maybeWithGradients(train, []*Node{x, kernel}, func(in []*Node) *Node {
		xr := Reshape(in[0], b, h/k, k, w/k, rowC)
		rows := make([]*Node, k)
		for i := range rows {
			rows[i] = Reshape(Slice(xr, AxisRange(), AxisRange(), AxisElem(i)), n, rowC)
		}
		patches = Concatenate(rows, 1) // [N, k*k*C] in (i, j, c) order, the HWIO kernel's row order
		wm = Reshape(in[1], k*rowC, outC)
		return Reshape(DotGeneral(patches, []int{1}, nil, wm, []int{0}, nil), b, h/k, w/k, outC)
	}, func(_ []*Node, _, dy *Node) []*Node {
		d := Reshape(dy, n, outC)
		wr := Reshape(wm, k, rowC, outC)
		rows := make([]*Node, k)
		for i := range rows {
			wi := Reshape(Slice(wr, AxisElem(i)), rowC, outC)
			rows[i] = Reshape(DotGeneral(d, []int{1}, nil, wi, []int{1}, nil), b, h/k, 1, w/k, rowC)
		}
		dx := Reshape(Concatenate(rows, 2), b, h, w, inC)
		return []*Node{dx, Reshape(weightGrad(patches, d), k, k, inC, outC)}
	})
}

// rowShiftConv is a stride-1 convolution with half of im2col's copies: the k horizontal taps are
// concatenated on the channel axis ([B, H+pad, W', k*C]) and multiplied at every padded row by
// the kernel laid out as [k*C, k*O] (all k vertical taps at once), and output row r sums tap i of
// row r+i: k slices of the narrower output instead of k*k slices of the input.
//
// In its gradients, the gradient dz of the products [B, H+pad, W', k, O] stacks k row-shifted,
// zero-padded copies of dy (GoMLX would pad each of the k slices to the size of z and add them
// up); the input gradient multiplies dz by each horizontal tap's block of the kernel separately
// and shifts the k results back into place by padding (GoMLX would slice the product k times on
// its channel axis, pad and add); the kernel gradient transposes dy once, k*(H+pad)/H times fewer
// values than dz, and stacks its shifted copies likewise.
func rowShiftConv(x, kernel *Node, pad [2]int, train bool) *Node {
	k, inC, outC := kernel.Shape().Dim(0), kernel.Shape().Dim(2), kernel.Shape().Dim(3)
	b, h, w := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	outH, outW := outSize(h, k, 1, pad), outSize(w, k, 1, pad)
	hp, wp := h+pad[0]+pad[1], w+pad[0]+pad[1]
	n := b * hp * outW
	var rows, wm *Node
	return maybeWithGradients(train, []*Node{x, kernel}, func(in []*Node) *Node {
		xp := padSpatial(in[0], pad, 0)
		taps := make([]*Node, k)
		for j := range taps {
			taps[j] = shifted(xp, 0, j, 1, hp, outW)
		}
		rows = Reshape(Concatenate(taps, -1), n, k*inC) // (b, r, w) x (j, c)
		// [i, j, C, O] -> [j, C, i, O] -> [k*C, k*O].
		wm = Reshape(TransposeAllAxes(in[1], 1, 2, 0, 3), k*inC, k*outC)
		z := Reshape(DotGeneral(rows, []int{1}, nil, wm, []int{0}, nil), b, hp, outW, k, outC)
		return tapSum(z, outH)
	}, func(_ []*Node, _, dy *Node) []*Node {
		d := Reshape(dy, b, outH, outW, 1, outC)
		shiftedDy := make([]*Node, k)
		for i := range shiftedDy {
			shiftedDy[i] = zeroPadAxis(d, 1, [2]int{i, hp - outH - i})
		}
		dz := Reshape(Concatenate(shiftedDy, 3), n, k*outC)
		wr := Reshape(wm, k, inC, k*outC)
		var dxp *Node
		for j := range k {
			wj := Reshape(Slice(wr, AxisElem(j)), inC, k*outC)
			t := Reshape(DotGeneral(dz, []int{1}, nil, wj, []int{1}, nil), b, hp, outW, inC)
			t = zeroPadAxis(t, 2, [2]int{j, wp - outW - j})
			if dxp == nil {
				dxp = t
			} else {
				dxp = Add(dxp, t)
			}
		}
		dx := Slice(dxp, AxisRange(), AxisRange(pad[0], pad[0]+h), AxisRange(pad[0], pad[0]+w))

		dyT := Reshape(transposed(Reshape(dy, -1, outC)), 1, outC, b, outH, outW)
		for i := range shiftedDy {
			shiftedDy[i] = zeroPadAxis(dyT, 3, [2]int{i, hp - outH - i})
		}
		dzT := Reshape(Concatenate(shiftedDy, 0), k*outC, n) // (i, o) x (b, r, w)
		dwT := Reshape(DotGeneral(dzT, []int{1}, nil, rows, []int{0}, nil), k, outC, k, inC)
		return []*Node{dx, TransposeAllAxes(dwT, 0, 2, 3, 1)} // [i, O, j, C] -> [i, j, C, O]
	})
}

// tapSum returns y [B, outH, W, O] with y[:, r] = sum over i of z[:, r+i, :, i] for z
// [B, H, W, k, O].
func tapSum(z *Node, outH int) *Node {
	w, k, o := z.Shape().Dim(2), z.Shape().Dim(3), z.Shape().Dim(4)
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
}

// patchMatMul multiplies patches [B, H, W, K] by w [K, O] into [B, H, W, O]. Its gradients are
// written out: GoMLX's gradient of the patches ends in a transposition (an identity permutation
// here, which the Go backend still copies element by element), and its gradient of w contracts
// patches and output gradient over their leading axes, which the Go backend's matmul cannot do
// in place: it transposes both (see weightGrad).
func patchMatMul(patches, w *Node, train bool) *Node {
	dims := patches.Shape().Dimensions
	n, k, o := patches.Shape().Size()/dims[3], w.Shape().Dim(0), w.Shape().Dim(1)
	var p *Node
	return maybeWithGradients(train, []*Node{patches, w}, func(in []*Node) *Node {
		p = Reshape(in[0], n, k)
		return Reshape(DotGeneral(p, []int{1}, nil, in[1], []int{0}, nil), dims[0], dims[1], dims[2], o)
	}, func(in []*Node, _, dy *Node) []*Node {
		d := Reshape(dy, n, o)
		dp := Reshape(DotGeneral(d, []int{1}, nil, in[1], []int{1}, nil), dims...)
		return []*Node{dp, weightGrad(p, d)}
	})
}

// weightGrad returns p^T d [K, O] for p [N, K] and d [N, O]. The Go backend's matmul wants the
// contracted axis last in its left operand, so one of the two is transposed first, the narrower:
// dW = p^T x d, or dW^T = d^T x p (measured: train step 1.72 -> 1.32 s against transposing both,
// as GoMLX's own gradient does).
func weightGrad(p, d *Node) *Node {
	if p.Shape().Dim(1) < d.Shape().Dim(1) {
		return DotGeneral(transposed(p), []int{1}, nil, d, []int{0}, nil)
	}
	return Transpose(DotGeneral(transposed(d), []int{1}, nil, p, []int{0}, nil), 0, 1)
}

// transposed returns the transpose [C, N] of m [N, C]. The Go backend's Transpose is a
// single-threaded element-by-element copy, slowest for narrow matrices: for 2M values, 25 ms at
// C = 32, 20 ms at C = 64, 11 ms from C = 128 on. Up to C = 64 the product I [C, C] x m^T, which
// its matmul kernels compute without moving m, on every core, is faster: 11 and 10 ms.
func transposed(m *Node) *Node {
	c := m.Shape().Dim(1)
	if c > 64 || !IsGoBackend(m.Graph().Backend()) {
		return Transpose(m, 0, 1)
	}
	eye := ConvertDType(Diagonal(m.Graph(), c), m.DType())
	return DotGeneral(eye, []int{1}, nil, m, []int{1}, nil)
}

// withGradient returns y = f(x) whose gradient with respect to x is grad(x, y, dy) given the
// gradient dy of y, instead of the one GoMLX derives through f: the Go backend's dead code
// elimination drops that unused derivation. Autodiff reaches y before x, so dy is known by then.
func withGradient(x *Node, f func(x *Node) *Node, grad func(x, y, dy *Node) *Node) *Node {
	return withGradients([]*Node{x}, func(in []*Node) *Node { return f(in[0]) },
		func(in []*Node, y, dy *Node) []*Node { return []*Node{grad(in[0], y, dy)} })
}

// maybeWithGradients is withGradients if train, else f(xs).
func maybeWithGradients(train bool, xs []*Node, f func(in []*Node) *Node, grad func(in []*Node, y, dy *Node) []*Node) *Node {
	if !train {
		return f(xs)
	}
	return withGradients(xs, f, grad)
}

// withGradients is withGradient for several inputs: grad returns the gradients of all of xs at
// once. f and grad receive xs through identity nodes, which grad should use rather than xs: a
// value the forward and the backward pass both read through the identity is not copied by it.
func withGradients(xs []*Node, f func(in []*Node) *Node, grad func(in []*Node, y, dy *Node) []*Node) *Node {
	var y, dy *Node
	var grads []*Node
	in := make([]*Node, len(xs))
	for i, x := range xs {
		in[i] = IdentityWithCustomGradient(x, func(_, v *Node) *Node {
			if dy == nil { // not reached through y: keep GoMLX's gradient
				return v
			}
			if grads == nil {
				grads = grad(in, y, dy)
			}
			return grads[i]
		})
	}
	y = f(in)
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
