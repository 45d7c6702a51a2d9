//go:build goexperiment.simd && amd64

package index

import "simd/archsimd"

// kernels are the dot-product kernels this CPU can run, by name.
var kernels = func() map[string]func(mat, q, out []float32) {
	k := map[string]func(mat, q, out []float32){"generic": dotRowsGeneric}
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		k["avx2"] = dotRowsAVX2
	}
	if archsimd.X86.AVX512() {
		k["avx512"] = dotRowsAVX512
	}
	return k
}()
