//go:build goexperiment.simd && amd64

package eval

import "simd/archsimd"

// useSIMD selects the AVX2+FMA kernel when the CPU has it.
var useSIMD = archsimd.X86.AVX2() && archsimd.X86.FMA()

// dotPacked writes the dot products of four queries with the rows of a packed gallery block:
// out[i*ldo + r] = q_i · row r. qb holds the four queries in broadcast form (see
// broadcastQueries) and panels holds gallery rows eight at a time, dimension-major (see
// packPanels), an even number of panels. Each step multiplies one coordinate of each query into
// eight rows at once, so no horizontal sums are needed; eight accumulators hide the FMA latency.
func dotPacked(panels, qb []float32, dim int, out []float32, ldo int) {
	if !useSIMD {
		dotPackedGeneric(panels, qb, dim, out, ldo)
		return
	}
	np := len(panels) / (8 * dim)
	for p := 0; p < np; p += 2 {
		a := panels[p*8*dim : (p+1)*8*dim : (p+1)*8*dim]
		b := panels[(p+1)*8*dim : (p+2)*8*dim : (p+2)*8*dim]
		var c00, c01, c10, c11, c20, c21, c30, c31 archsimd.Float32x8
		// Advancing the slices and loading through array pointers leaves no bounds check in the loop.
		x := qb[: 32*dim : 32*dim]
		for len(a) >= 8 && len(b) >= 8 && len(x) >= 32 {
			g0 := archsimd.LoadFloat32x8((*[8]float32)(a))
			g1 := archsimd.LoadFloat32x8((*[8]float32)(b))
			xs := (*[32]float32)(x)
			x0 := archsimd.LoadFloat32x8((*[8]float32)(xs[0:8]))
			c00, c01 = g0.MulAdd(x0, c00), g1.MulAdd(x0, c01)
			x1 := archsimd.LoadFloat32x8((*[8]float32)(xs[8:16]))
			c10, c11 = g0.MulAdd(x1, c10), g1.MulAdd(x1, c11)
			x2 := archsimd.LoadFloat32x8((*[8]float32)(xs[16:24]))
			c20, c21 = g0.MulAdd(x2, c20), g1.MulAdd(x2, c21)
			x3 := archsimd.LoadFloat32x8((*[8]float32)(xs[24:32]))
			c30, c31 = g0.MulAdd(x3, c30), g1.MulAdd(x3, c31)
			a, b, x = a[8:], b[8:], x[32:]
		}
		o := p * 8
		c00.StoreSlice(out[o:])
		c01.StoreSlice(out[o+8:])
		c10.StoreSlice(out[ldo+o:])
		c11.StoreSlice(out[ldo+o+8:])
		c20.StoreSlice(out[2*ldo+o:])
		c21.StoreSlice(out[2*ldo+o+8:])
		c30.StoreSlice(out[3*ldo+o:])
		c31.StoreSlice(out[3*ldo+o+8:])
	}
}
