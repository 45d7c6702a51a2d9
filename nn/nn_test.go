package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
)

// testBackend is the pure Go backend: the one CI has, and the one whose gaps this package works around.
func testBackend(tb testing.TB) compute.Backend {
	tb.Helper()
	return gobackend.GetBackend()
}

// randTensor returns a float32 tensor of the given dimensions with values uniform in [-1, 1).
func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = rng.Float32()*2 - 1
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func flat(t *tensors.Tensor) []float32 { return tensors.MustCopyFlatData[float32](t) }

func maxAbsDiff(tb testing.TB, a, b []float32) float64 {
	tb.Helper()
	if len(a) != len(b) {
		tb.Fatalf("sizes differ: %d and %d", len(a), len(b))
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// refConv is the reference convolution: the backend's ConvGeneral, one ungrouped call per group
// (GoMLX has no gradient for grouped ConvGeneral).
func refConv(x, kernel *Node, stride int, pad [2]int, groups int) *Node {
	cg, og := x.Shape().Dim(-1)/groups, kernel.Shape().Dim(-1)/groups
	outs := make([]*Node, groups)
	for i := range outs {
		xi := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*cg, (i+1)*cg))
		ki := Slice(kernel, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*og, (i+1)*og))
		outs[i] = nativeConv(xi, ki, stride, pad)
	}
	if groups == 1 {
		return outs[0]
	}
	return Concatenate(outs, -1)
}

func TestConvolve2DMatchesConvGeneral(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		name                         string
		k, stride, groups, inC, outC int
		same                         bool
		h                            int // input height (width 8): 8 gives 2x2 and 4x4 whole patches
	}{
		{"1x1", 1, 1, 1, 4, 6, true, 9},
		{"1x1/s2", 1, 2, 1, 4, 6, true, 9},
		{"3x3", 3, 1, 1, 4, 6, true, 9},
		{"3x3/s2", 3, 2, 1, 4, 6, true, 9},
		{"3x3 valid", 3, 1, 1, 4, 6, false, 9},
		{"5x5", 5, 1, 1, 3, 5, true, 9},
		{"5x5/s2", 5, 2, 1, 3, 5, true, 9},
		{"7x7/s2", 7, 2, 1, 3, 4, true, 9},
		{"7x7", 7, 1, 1, 2, 3, true, 9},
		{"2x2/s2 valid", 2, 2, 1, 4, 6, false, 9},
		{"4x4/s4 valid", 4, 4, 1, 3, 6, false, 9},
		{"2x2/s2 valid, whole patches", 2, 2, 1, 4, 6, false, 8},
		{"4x4/s4 valid, whole patches", 4, 4, 1, 3, 6, false, 8},
		{"4x4", 4, 1, 1, 3, 5, true, 9},
		{"depthwise 3x3", 3, 1, 4, 4, 4, true, 9},
		{"depthwise 3x3/s2", 3, 2, 4, 4, 4, true, 9},
		{"depthwise 5x5", 5, 1, 3, 3, 3, true, 9},
		{"groups 2", 3, 1, 2, 4, 6, true, 9},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pad := [2]int{}
			if tc.same {
				pad = SamePadding(tc.k)
			}
			h, w := tc.h, 8
			x := randTensor(rng, 2, h, w, tc.inC)
			kernel := randTensor(rng, tc.k, tc.k, tc.inC/tc.groups, tc.outC)
			// The output shape is needed for the random cotangent r: compute it from the formula.
			outH, outW := outSize(h, tc.k, tc.stride, pad), outSize(w, tc.k, tc.stride, pad)
			r := randTensor(rng, 2, outH, outW, tc.outC)
			outs, err := CallOnceN(backend, func(x, kernel, r *Node) []*Node {
				y := Convolve2D(x, kernel, tc.stride, pad, tc.groups)
				ref := refConv(x, kernel, tc.stride, pad, tc.groups)
				grads := Gradient(ReduceAllSum(Mul(y, r)), x, kernel)
				refGrads := Gradient(ReduceAllSum(Mul(ref, r)), x, kernel)
				return []*Node{y, ref, grads[0], refGrads[0], grads[1], refGrads[1]}
			}, x, kernel, r)
			if err != nil {
				t.Fatal(err)
			}
			// GoMLX's gradient of ConvGeneral with respect to its input comes out shifted for
			// even kernels (its reverse-convolution padding assumes a centred kernel), so the
			// gradient of x is checked against a direct loop instead.
			outs[3] = tensors.FromFlatDataAndDimensions(directConvInputGrad(flat(r), flat(kernel), x.Shape().Dimensions,
				outH, outW, tc.k, tc.stride, pad[0], tc.groups, tc.outC), x.Shape().Dimensions...)
			for i, what := range []string{"output", "gradient of x", "gradient of kernel"} {
				got, want := outs[2*i], outs[2*i+1]
				if !got.Shape().Equal(want.Shape()) {
					t.Fatalf("%s: shape %s, want %s", what, got.Shape(), want.Shape())
				}
				if d := maxAbsDiff(t, flat(got), flat(want)); d >= 1e-4 {
					t.Errorf("%s: max abs diff %g >= 1e-4", what, d)
				}
			}
		})
	}
}

// directConvInputGrad is the gradient of sum(conv(x, kernel) * r) with respect to x by direct
// loops: every output position sends r times the kernel tap back to the input it read.
func directConvInputGrad(r, kernel []float32, xDims []int, outH, outW, k, stride, padLow, groups, outC int) []float32 {
	b, h, w, c := xDims[0], xDims[1], xDims[2], xDims[3]
	cg, og := c/groups, outC/groups
	dx := make([]float32, b*h*w*c)
	for bi := range b {
		for oy := range outH {
			for ox := range outW {
				for o := range outC {
					grad := r[((bi*outH+oy)*outW+ox)*outC+o]
					gi := o / og
					for i := range k {
						for j := range k {
							y, x := oy*stride+i-padLow, ox*stride+j-padLow
							if y < 0 || y >= h || x < 0 || x >= w {
								continue
							}
							for ci := range cg {
								dx[((bi*h+y)*w+x)*c+gi*cg+ci] += grad * kernel[((i*k+j)*cg+ci)*outC+o]
							}
						}
					}
				}
			}
		}
	}
	return dx
}

func TestMaxPool2D(t *testing.T) {
	backend := testBackend(t)
	tests := []struct {
		k, stride int
		pad       [2]int
	}{{2, 2, [2]int{}}, {3, 2, [2]int{1, 1}}, {3, 1, [2]int{1, 1}}, {2, 1, [2]int{}}}
	rng := rand.New(rand.NewPCG(3, 4))
	const b, h, w, c = 2, 8, 6, 3
	for _, tc := range tests {
		x := randTensor(rng, b, h, w, c)
		outs, err := CallOnceN(backend, func(x *Node) []*Node {
			y := MaxPool2D(x, tc.k, tc.stride, tc.pad)
			return []*Node{y, Gradient(ReduceAllSum(y), x)[0]}
		}, x)
		if err != nil {
			t.Fatalf("k=%d s=%d: %v", tc.k, tc.stride, err)
		}
		// Direct loop: the maximum of each window, and how many windows pick each input (the
		// gradient of the sum of the outputs; random values have no ties).
		xs := flat(x)
		oh, ow := outSize(h, tc.k, tc.stride, tc.pad), outSize(w, tc.k, tc.stride, tc.pad)
		want := make([]float32, 0, b*oh*ow*c)
		wantGrad := make([]float32, len(xs))
		for bi := range b {
			for oy := range oh {
				for ox := range ow {
					for ci := range c {
						best, bestIdx := float32(math.Inf(-1)), -1
						for i := range tc.k {
							for j := range tc.k {
								y, x := oy*tc.stride+i-tc.pad[0], ox*tc.stride+j-tc.pad[0]
								if y < 0 || y >= h || x < 0 || x >= w {
									continue
								}
								idx := ((bi*h+y)*w+x)*c + ci
								if xs[idx] > best {
									best, bestIdx = xs[idx], idx
								}
							}
						}
						want = append(want, best)
						wantGrad[bestIdx]++
					}
				}
			}
		}
		if d := maxAbsDiff(t, flat(outs[0]), want); d != 0 {
			t.Errorf("k=%d s=%d pad=%v: output differs from the direct loop by %g", tc.k, tc.stride, tc.pad, d)
		}
		if d := maxAbsDiff(t, flat(outs[1]), wantGrad); d != 0 {
			t.Errorf("k=%d s=%d pad=%v: gradient differs from the direct loop by %g", tc.k, tc.stride, tc.pad, d)
		}
	}
}

func TestGlobalAvgPool(t *testing.T) {
	x := tensors.FromValue([][][][]float32{{{{1, 10}, {2, 20}}, {{3, 30}, {6, 60}}}})
	got, err := CallOnce(testBackend(t), GlobalAvgPool, x)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, flat(got), []float32{3, 30}); d > 1e-6 {
		t.Errorf("GlobalAvgPool = %v, want [3 30]", flat(got))
	}
}

func TestSamplePoints(t *testing.T) {
	// feat[y][x] = 10*y + x on a 2x3 map: linear, so bilinear sampling is exact.
	feat := tensors.FromValue([][][][]float32{{{{0}, {1}, {2}}, {{10}, {11}, {12}}}})
	points := tensors.FromValue([][][]float32{{
		{0.5 / 3, 0.5 / 2}, // centre of pixel (0, 0)
		{2.5 / 3, 1.5 / 2}, // centre of pixel (2, 1)
		{0.5, 0.5},         // x = 1, y = 0.5
		{1.0 / 3, 0.25},    // x = 0.5, y = 0
		{-1, 2},            // outside: clamped to pixel (0, 1)
	}})
	outs, err := CallOnceN(testBackend(t), func(feat, points *Node) []*Node {
		y := SamplePoints(feat, points)
		grads := Gradient(ReduceAllSum(y), feat, points)
		return []*Node{y, grads[0], grads[1]}
	}, feat, points)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, flat(outs[0]), []float32{0, 12, 6, 0.5, 10}); d > 1e-5 {
		t.Errorf("SamplePoints = %v, want [0 12 6 0.5 10]", flat(outs[0]))
	}
	// Each point spreads a unit weight over its neighbours: (0,0) gets 1 from point 0 and 0.5 from
	// point 3; (1,0) 0.5 from points 2 and 3; (0,1) 1 from the clamped point 4; (1,1) 0.5 from
	// point 2; (2,1) 1 from point 1.
	wantFeatGrad := []float32{1.5, 1, 0, 1, 0.5, 1}
	if d := maxAbsDiff(t, flat(outs[1]), wantFeatGrad); d > 1e-5 {
		t.Errorf("gradient w.r.t. feat = %v, want %v", flat(outs[1]), wantFeatGrad)
	}
	// Inside the map d/dx = 1 per pixel * 3 pixels per unit and d/dy = 10 per pixel * 2 pixels per
	// unit; a point clamped from outside does not move. (Point 1 sits exactly on the clamp.)
	pg := flat(outs[2])
	for _, i := range []int{0, 2, 3, 4} {
		want := [2]float32{3, 20}
		if i == 4 {
			want = [2]float32{0, 0}
		}
		if got := [2]float32{pg[2*i], pg[2*i+1]}; maxAbsDiff(t, got[:], want[:]) > 1e-4 {
			t.Errorf("gradient w.r.t. point %d = %v, want %v", i, got, want)
		}
	}
}
