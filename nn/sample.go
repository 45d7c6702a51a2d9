package nn

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
)

// SamplePoints samples feat [B, H, W, C] bilinearly at points [B, P, 2] and returns [B, P, C].
// A point is (x, y) in [0, 1] relative to the width and height of the image the feature map
// covers: pixel centres are at ((i+0.5)/W, (j+0.5)/H), as PyTorch's grid_sample with
// align_corners=false. Points outside are clamped to the border. The result has gradients with
// respect to feat and to points (FashionNet pools features at predicted landmarks).
func SamplePoints(feat, points *Node) *Node {
	b, h, w, c := feat.Shape().Dim(0), feat.Shape().Dim(1), feat.Shape().Dim(2), feat.Shape().Dim(3)
	p := points.Shape().Dim(1)
	dtype := feat.DType()
	g := feat.Graph()
	px := Slice(points, AxisRange(), AxisRange(), AxisElem(0)) // [B, P, 1]
	py := Slice(points, AxisRange(), AxisRange(), AxisElem(1))
	// Continuous pixel coordinates, clamped to the centres of the border pixels.
	fx := Min(Max(AddScalar(MulScalar(px, float64(w)), -0.5), ScalarZero(g, dtype)), Scalar(g, dtype, w-1))
	fy := Min(Max(AddScalar(MulScalar(py, float64(h)), -0.5), ScalarZero(g, dtype)), Scalar(g, dtype, h-1))
	// Top-left corner, kept one pixel from the far border so that the +1 neighbour exists.
	x0 := StopGradient(Min(Floor(fx), Scalar(g, dtype, max(w-2, 0))))
	y0 := StopGradient(Min(Floor(fy), Scalar(g, dtype, max(h-2, 0))))
	ax, ay := Sub(fx, x0), Sub(fy, y0) // weights of the +1 neighbours, in [0, 1]
	dx, dy := min(1, w-1), min(1, h-1)

	flat := Reshape(feat, b*h*w, c)
	batchBase := MulScalar(ConvertDType(Iota(g, points.Shape().Clone(), 0), dtype), float64(h*w))
	batchBase = Slice(batchBase, AxisRange(), AxisRange(), AxisElem(0))
	corner := func(ox, oy int) *Node {
		idx := Add(batchBase, Add(MulScalar(AddScalar(y0, float64(oy)), float64(w)), AddScalar(x0, float64(ox))))
		return Reshape(Gather(flat, ConvertDType(idx, dtypes.Int32)), b, p, c)
	}
	top := Add(Mul(OneMinus(ax), corner(0, 0)), Mul(ax, corner(dx, 0)))
	bottom := Add(Mul(OneMinus(ax), corner(0, dy)), Mul(ax, corner(dx, dy)))
	return Add(Mul(OneMinus(ay), top), Mul(ay, bottom))
}
