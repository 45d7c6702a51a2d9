package index

// dotRowsGeneric writes to out[i] the dot product of q and row i of mat (rows of len(q)). It is
// the portable kernel, unrolled by four with independent accumulators so that the additions
// pipeline.
func dotRowsGeneric(mat, q []float32, out []float32) {
	d := len(q)
	for i := range out {
		row := mat[i*d : (i+1)*d : (i+1)*d]
		var s0, s1, s2, s3 float32
		j := 0
		for ; j+4 <= d; j += 4 {
			s0 += row[j] * q[j]
			s1 += row[j+1] * q[j+1]
			s2 += row[j+2] * q[j+2]
			s3 += row[j+3] * q[j+3]
		}
		for ; j < d; j++ {
			s0 += row[j] * q[j]
		}
		out[i] = (s0 + s1) + (s2 + s3)
	}
}
