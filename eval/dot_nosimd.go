//go:build !goexperiment.simd || !amd64

package eval

// dotPacked is dotPackedGeneric where SIMD is not compiled in.
func dotPacked(panels, qb []float32, dim int, out []float32, ldo int) {
	dotPackedGeneric(panels, qb, dim, out, ldo)
}
