//go:build !(goexperiment.simd && amd64)

package index

// dotRows writes to out[i] the dot product of q and row i of mat (rows of len(q)).
func dotRows(mat, q []float32, out []float32) { dotRowsGeneric(mat, q, out) }
