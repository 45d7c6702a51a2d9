package eval

// packPanels lays out rows (n x dim, row-major) eight rows at a time, dimension-major:
// panel p holds rows 8p..8p+7 as dim groups of eight values (row 8p+l's coordinate d at
// p*8*dim + d*8 + l). The number of rows is padded with zero rows to a multiple of 16, as
// dotPacked takes panels in pairs.
func packPanels(rows []float32, n, dim int) []float32 {
	np := (n + 15) / 16 * 2
	out := make([]float32, np*8*dim)
	for r := range n {
		p, l := r/8, r%8
		for d := range dim {
			out[p*8*dim+d*8+l] = rows[r*dim+d]
		}
	}
	return out
}

// broadcastQueries writes four queries (dim each, one after the other in q) in the form
// dotPacked reads: for each coordinate d, each query's value eight times, so that the kernel
// loads what it would otherwise have to broadcast: qb[(d*4+i)*8+l] = q[i*dim+d]. qb has
// 32*dim values.
func broadcastQueries(qb, q []float32, dim int) {
	for i := range 4 {
		for d := range dim {
			v := q[i*dim+d]
			o := (d*4 + i) * 8
			for l := range 8 {
				qb[o+l] = v
			}
		}
	}
}

// dotPackedGeneric is the portable dotPacked.
func dotPackedGeneric(panels, qb []float32, dim int, out []float32, ldo int) {
	np := len(panels) / (8 * dim)
	for i := range 4 {
		for p := range np {
			var acc [8]float32
			a := panels[p*8*dim : (p+1)*8*dim]
			for d := range dim {
				x := qb[(d*4+i)*8]
				for l := range acc {
					acc[l] += a[d*8+l] * x
				}
			}
			copy(out[i*ldo+p*8:], acc[:])
		}
	}
}
