package index

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randomVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestDotRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []int{1, 3, 7, 8, 9, 31, 32, 33, 64, 100, 128, 130, 512} {
		const rows = 5
		mat, q := randomVec(r, rows*d), randomVec(r, d)
		for name, kernel := range kernels {
			out := make([]float32, rows)
			kernel(mat, q, out)
			for i := range rows {
				var want float64
				for j := range d {
					want += float64(mat[i*d+j]) * float64(q[j])
				}
				if math.Abs(float64(out[i])-want) > 1e-4*math.Sqrt(float64(d)) {
					t.Errorf("%s d=%d row %d: %g, want %g", name, d, i, out[i], want)
				}
			}
		}
	}
}

// BenchmarkDotRows scores a block of 256 rows of 128 floats, as Search does.
func BenchmarkDotRows(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	const d = 128
	mat, q := randomVec(r, scanBlock*d), randomVec(r, d)
	out := make([]float32, scanBlock)
	for name, kernel := range kernels {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(mat) * 4))
			for b.Loop() {
				kernel(mat, q, out)
			}
		})
	}
}

// BenchmarkSearch is one exact top-10 search of the embedded index over 100,000 128-d items,
// unfiltered and filtered by garment type.
func BenchmarkSearch(b *testing.B) {
	e, err := OpenEmbedded(b.TempDir() + "/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	items := randomItems(rand.New(rand.NewPCG(3, 3)), "b", 100_000, 128)
	for lo := 0; lo < len(items); lo += 10_000 {
		if err := e.Add(context.Background(), items[lo:lo+10_000]); err != nil {
			b.Fatal(err)
		}
	}
	q := randomVec(rand.New(rand.NewPCG(4, 4)), 128)
	for _, f := range []Filter{{}, {Type: "upper"}} {
		b.Run(fmt.Sprintf("filter=%q", f.Type), func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Search(context.Background(), q, 10, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
