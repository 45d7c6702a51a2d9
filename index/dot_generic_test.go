//go:build !(goexperiment.simd && amd64)

package index

// kernels are the dot-product kernels this build has, by name.
var kernels = map[string]func(mat, q, out []float32){"generic": dotRowsGeneric}
