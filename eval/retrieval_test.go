package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

func TestRetrieval(t *testing.T) {
	gallery := [][]float32{{1, 0}, {0, 1}, {1, 1}, {-1, 0}}
	galleryIDs := []string{"A", "B", "A", "C"}
	queries := [][]float32{
		{1, 0},    // A: g0 is identical, rank 0
		{0, 1},    // A: best A is g2 (0.71), behind g1 (1): rank 1
		{-1, 0.1}, // B: g1 (0.10) is behind g3 (0.99): rank 1
		{0, -1},   // C: g3 has similarity 0, tied with g0 which comes first: rank 1
		{3, 0},    // D: no gallery image of the item
	}
	queryIDs := []string{"A", "A", "B", "C", "D"}
	ranks, err := RetrievalRanks(queries, gallery, queryIDs, galleryIDs)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ranks) != "[0 1 1 1 -1]" {
		t.Fatalf("ranks %v, want [0 1 1 1 -1]", ranks)
	}
	res, err := Retrieval(queries, gallery, queryIDs, galleryIDs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Top1 != 0.2 || res.Top5 != 0.8 || res.Top50 != 0.8 || res.Queries != 5 || res.Unmatched != 1 {
		t.Errorf("result %+v, want top1 0.2, top5..top50 0.8, 5 queries, 1 unmatched", res)
	}
	// The same rankings from distances (smaller is nearer).
	dist := [][]float32{
		{0, 2, 1, 4},
		{2, 0, 1, 2},
		{5, 3, 4, 1},
		{1, 4, 3, 1},
		{0, 1, 1, 1},
	}
	dres, err := RetrievalFromDistances(dist, queryIDs, galleryIDs)
	if err != nil || dres != res {
		t.Errorf("from distances %+v (%v), want %+v", dres, err, res)
	}
	js, _ := json.Marshal(res)
	for _, k := range RetrievalKs {
		if !strings.Contains(string(js), fmt.Sprintf(`"top%d":`, k)) {
			t.Errorf("JSON %s lacks top%d", js, k)
		}
	}
	for _, tc := range []struct {
		name string
		q, g [][]float32
	}{
		{"dimension mismatch", [][]float32{{1, 0, 0}, {0, 1}, {1, 1}, {1, 0}, {0, 1}}, gallery},
		{"no gallery", queries, nil},
	} {
		if _, err := Retrieval(tc.q, tc.g, queryIDs, galleryIDs[:len(tc.g)]); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestRetrievalRanksMatchBruteForce(t *testing.T) {
	// Sizes that are not multiples of the blocks (queries 16, kernel 4; gallery 512, panels 16),
	// spanning two gallery blocks and several workers' query blocks.
	const nq, ng, dim, items = 101, 531, 19, 60
	rng := rand.New(rand.NewPCG(5, 6))
	emb := func(n int) ([][]float32, []string) {
		rows, ids := make([][]float32, n), make([]string, n)
		for i := range rows {
			rows[i] = make([]float32, dim)
			for j := range rows[i] {
				rows[i][j] = rng.Float32()*2 - 1
			}
			ids[i] = fmt.Sprint(rng.IntN(items))
		}
		return rows, ids
	}
	q, qids := emb(nq)
	g, gids := emb(ng)
	ranks, err := RetrievalRanks(q, g, qids, gids)
	if err != nil {
		t.Fatal(err)
	}
	norm := func(v []float32) float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s)
	}
	for i := range q {
		sims := make([]float64, ng)
		for j := range g {
			var d float64
			for k := range dim {
				d += float64(q[i][k]) * float64(g[j][k])
			}
			sims[j] = d / norm(q[i]) / norm(g[j])
		}
		order := make([]int, ng)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return sims[order[a]] > sims[order[b]] })
		want := -1
		for r, j := range order {
			if gids[j] == qids[i] {
				want = r
				break
			}
		}
		if ranks[i] != want {
			t.Errorf("query %d: rank %d, brute force %d", i, ranks[i], want)
		}
	}
}

func TestFirstHitRankMatchesSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 200 {
		n := 1 + rng.IntN(40)
		sim := make([]float32, n)
		gids := make([]int32, n)
		for j := range n {
			sim[j] = float32(rng.IntN(5)) / 4 // few values: many ties
			gids[j] = int32(rng.IntN(6))
		}
		q := int32(rng.IntN(7)) // 6 may be absent
		order := make([]int, n)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return sim[order[a]] > sim[order[b]] })
		want := -1
		for r, j := range order {
			if gids[j] == q {
				want = r
				break
			}
		}
		var pos []int32
		for j, g := range gids {
			if g == q {
				pos = append(pos, int32(j))
			}
		}
		if got := firstHitRank(sim, pos); got != want {
			t.Fatalf("trial %d: rank %d, sorting gives %d (sim %v ids %v q %d)", trial, got, want, sim, gids, q)
		}
	}
}

func TestDotPacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, dim int }{{1, 1}, {9, 7}, {16, 8}, {17, 16}, {33, 128}, {40, 131}} {
		rows := make([]float32, tc.n*tc.dim)
		q := make([]float32, 4*tc.dim)
		for i := range rows {
			rows[i] = rng.Float32()*2 - 1
		}
		for i := range q {
			q[i] = rng.Float32()*2 - 1
		}
		panels := packPanels(rows, tc.n, tc.dim)
		ldo := len(panels) / tc.dim
		if ldo%16 != 0 || ldo < tc.n {
			t.Fatalf("n=%d: packed to %d rows", tc.n, ldo)
		}
		for name, kernel := range map[string]func([]float32, []float32, int, []float32, int){
			"dotPacked": dotPacked, "dotPackedGeneric": dotPackedGeneric,
		} {
			out := make([]float32, 4*ldo)
			qb := make([]float32, 32*tc.dim)
			broadcastQueries(qb, q, tc.dim)
			kernel(panels, qb, tc.dim, out, ldo)
			for i := range 4 {
				for r := range ldo {
					var want float64
					for d := range tc.dim {
						if r < tc.n {
							want += float64(rows[r*tc.dim+d]) * float64(q[i*tc.dim+d])
						}
					}
					if math.Abs(float64(out[i*ldo+r])-want) > 1e-4 {
						t.Fatalf("%s n=%d dim=%d: query %d row %d = %v, want %v", name, tc.n, tc.dim, i, r, out[i*ldo+r], want)
					}
				}
			}
		}
	}
}

// BenchmarkRetrievalInShop measures the In-shop protocol at full size: 14,218 queries against
// 12,612 gallery images, 128-d embeddings, 3,985 items.
func BenchmarkRetrievalInShop(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	emb := func(n int) ([][]float32, []string) {
		rows, ids := make([][]float32, n), make([]string, n)
		for i := range rows {
			rows[i] = make([]float32, 128)
			for j := range rows[i] {
				rows[i][j] = rng.Float32()*2 - 1
			}
			ids[i] = fmt.Sprintf("id_%08d", rng.IntN(3985))
		}
		return rows, ids
	}
	q, qids := emb(14218)
	g, gids := emb(12612)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Retrieval(q, g, qids, gids); err != nil {
			b.Fatal(err)
		}
	}
}
