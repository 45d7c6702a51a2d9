package index

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// weaviateAddr returns the test Weaviate server's HOST:PORT (ATELIER_WEAVIATE). Without one the
// test is skipped, except in CI, where it fails.
func weaviateAddr(t testing.TB) string {
	addr := os.Getenv("ATELIER_WEAVIATE")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ATELIER_WEAVIATE is not set: CI must run the index tests against Weaviate (make test starts it)")
		}
		t.Skip("ATELIER_WEAVIATE not set; run the tests through scripts/with-weaviate.sh (make test does)")
	}
	return addr
}

// implementation opens one kind of index for a test; the returned function opens the same index
// again (after the previous one was closed).
type implementation struct {
	name string
	open func(t *testing.T) func() Index
}

var implementations = []implementation{
	{"embedded", func(t *testing.T) func() Index {
		path := t.TempDir() + "/catalog.db"
		return func() Index {
			e, err := OpenEmbedded(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			return e
		}
	}},
	{"weaviate", func(t *testing.T) func() Index {
		addr := weaviateAddr(t)
		class := fmt.Sprintf("Test%s%d", strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()), rand.Uint32())
		t.Cleanup(func() {
			w, err := OpenWeaviate(context.Background(), addr, class)
			if err == nil {
				err = w.Drop(context.Background())
			}
			if err != nil {
				t.Errorf("dropping the test class: %v", err)
			}
		})
		return func() Index {
			idx, err := Open(t.Context(), WeaviateScheme+addr+"/"+class)
			if err != nil {
				t.Fatal(err)
			}
			return idx
		}
	}},
}

// forEach runs test against every implementation.
func forEach(t *testing.T, test func(t *testing.T, open func() Index)) {
	for _, impl := range implementations {
		t.Run(impl.name, func(t *testing.T) { test(t, impl.open(t)) })
	}
}

var (
	types      = []string{"upper", "lower", "full"}
	categories = []string{"Blouse", "Tee", "Jeans", "Skirt", "Dress"}
)

// randomItems makes n items with random embeddings of dimension dim, ids prefix0..prefixN-1.
func randomItems(r *rand.Rand, prefix string, n, dim int) []Item {
	items := make([]Item, n)
	for i := range items {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		items[i] = Item{
			ID: fmt.Sprintf("%s%04d", prefix, i), Name: fmt.Sprintf("item %d", i), Image: fmt.Sprintf("img/%d.jpg", i),
			Type: types[i%len(types)], Category: categories[i%len(categories)],
			Meta: map[string]string{"shop": "s" + fmt.Sprint(i%2)}, Embedding: v,
		}
	}
	return items
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// bruteForce returns the k items matching f most similar to q, with their exact scores.
func bruteForce(items []Item, q []float32, k int, f Filter) []Hit {
	var hits []Hit
	for _, it := range items {
		if f.Match(&it) {
			hits = append(hits, Hit{Item: it, Score: float32(cosine(q, it.Embedding))})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int { return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.ID, b.ID)) })
	return hits[:min(k, len(hits))]
}

// checkHits compares a search answer with brute force: same items in the same order, except that
// items whose exact scores are within rounding of each other may swap.
func checkHits(t *testing.T, got, want []Hit, byID map[string]Item, q []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hits, want %d", len(got), len(want))
	}
	for i := range got {
		exact := cosine(q, byID[got[i].ID].Embedding)
		if math.Abs(exact-float64(got[i].Score)) > 1e-4 {
			t.Errorf("hit %d %q: score %g, exact cosine %g", i, got[i].ID, got[i].Score, exact)
		}
		if got[i].ID != want[i].ID && math.Abs(exact-float64(want[i].Score)) > 1e-5 {
			t.Errorf("hit %d: got %q (%.6f), brute force %q (%.6f)", i, got[i].ID, exact, want[i].ID, want[i].Score)
		}
	}
}

func TestAddGetDelete(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		items := randomItems(rand.New(rand.NewPCG(1, 2)), "a", 20, 8)
		if err := idx.Add(ctx, items); err != nil {
			t.Fatal(err)
		}
		if n, err := idx.Len(ctx); err != nil || n != 20 {
			t.Fatalf("Len = %d, %v; want 20", n, err)
		}
		got, err := idx.Get(ctx, "a0007")
		if err != nil {
			t.Fatal(err)
		}
		want := items[7]
		if got.Name != want.Name || got.Type != want.Type || got.Category != want.Category || got.Image != want.Image || got.Meta["shop"] != want.Meta["shop"] {
			t.Errorf("Get = %+v, want %+v", got, want)
		}
		if c := cosine(got.Embedding, want.Embedding); c < 1-1e-6 || math.Abs(cosine(got.Embedding, got.Embedding)-1) > 1e-6 {
			t.Errorf("stored embedding: cosine to the added one %g", c)
		}
		var norm float64
		for _, x := range got.Embedding {
			norm += float64(x) * float64(x)
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Errorf("stored embedding has squared norm %g, want 1", norm)
		}
		if err := idx.Delete(ctx, "a0007", "a0003", "nonexistent"); err != nil {
			t.Fatal(err)
		}
		if _, err := idx.Get(ctx, "a0007"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of a deleted item: %v, want ErrNotFound", err)
		}
		if n, err := idx.Len(ctx); err != nil || n != 18 {
			t.Fatalf("Len after deleting 2 = %d, %v; want 18", n, err)
		}
		hits, err := idx.Search(ctx, items[3].Embedding, 20, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.ID == "a0003" || h.ID == "a0007" {
				t.Errorf("search found deleted item %s", h.ID)
			}
		}
		if len(hits) != 18 {
			t.Errorf("search for 20 of 18 items: %d hits", len(hits))
		}
	})
}

func TestSearchEqualsBruteForce(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		r := rand.New(rand.NewPCG(3, 4))
		items := randomItems(r, "s", 200, 24)
		if err := idx.Add(ctx, items); err != nil {
			t.Fatal(err)
		}
		byID := map[string]Item{}
		for _, it := range items {
			byID[it.ID] = it
		}
		queries := randomItems(r, "q", 10, 24)
		for _, f := range []Filter{{}, {Type: "lower"}, {Category: "Dress"}, {Type: "upper", Category: "Tee"}, {Type: "upper", Category: "Jeans"}} {
			for _, q := range queries {
				hits, err := idx.Search(ctx, q.Embedding, 10, f)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hits {
					if !f.Match(&h.Item) {
						t.Errorf("filter %+v: hit %+v does not match", f, h.Item)
					}
				}
				checkHits(t, hits, bruteForce(items, q.Embedding, 10, f), byID, q.Embedding)
			}
		}
	})
}

func TestList(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		items := randomItems(rand.New(rand.NewPCG(5, 6)), "l", 30, 4)
		rand.New(rand.NewPCG(7, 8)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		if err := idx.Add(ctx, items); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f             Filter
			offset, limit int
			want          []string
		}{
			{Filter{}, 0, 3, []string{"l0000", "l0001", "l0002"}},
			{Filter{}, 28, 5, []string{"l0028", "l0029"}},
			{Filter{Type: "full"}, 2, 2, []string{"l0008", "l0011"}},
			{Filter{Category: "Tee"}, 0, 100, []string{"l0001", "l0006", "l0011", "l0016", "l0021", "l0026"}},
			{Filter{Type: "lower", Category: "Skirt"}, 0, 10, []string{"l0013", "l0028"}},
			{Filter{}, 40, 10, nil},
		} {
			got, err := idx.List(ctx, tc.f, tc.offset, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range got {
				ids = append(ids, it.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("List(%+v, %d, %d) = %v, want %v", tc.f, tc.offset, tc.limit, ids, tc.want)
			}
		}
	})
}

func TestPersistence(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		items := randomItems(rand.New(rand.NewPCG(9, 10)), "p", 50, 16)
		if err := idx.Add(ctx, items); err != nil {
			t.Fatal(err)
		}
		if err := idx.Delete(ctx, "p0000", "p0049"); err != nil {
			t.Fatal(err)
		}
		if err := idx.Close(); err != nil {
			t.Fatal(err)
		}
		idx = open()
		if n, err := idx.Len(ctx); err != nil || n != 48 {
			t.Fatalf("Len after reopening = %d, %v; want 48", n, err)
		}
		for _, it := range items[1:49] {
			got, err := idx.Get(ctx, it.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != it.Name || cosine(got.Embedding, it.Embedding) < 1-1e-6 {
				t.Errorf("item %s after reopening: %+v", it.ID, got)
			}
		}
		hits, err := idx.Search(ctx, items[10].Embedding, 1, Filter{})
		if err != nil || len(hits) != 1 || hits[0].ID != "p0010" || hits[0].Score < 0.9999 {
			t.Errorf("search for an item's own embedding after reopening: %+v, %v", hits, err)
		}
	})
}

func TestUpsert(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		items := randomItems(rand.New(rand.NewPCG(11, 12)), "u", 10, 8)
		if err := idx.Add(ctx, items); err != nil {
			t.Fatal(err)
		}
		repl := items[4]
		repl.Name, repl.Type = "replaced", "full"
		repl.Embedding = slices.Clone(items[9].Embedding)
		repl.Embedding[0] += 1
		if err := idx.Add(ctx, []Item{repl}); err != nil {
			t.Fatal(err)
		}
		if n, err := idx.Len(ctx); err != nil || n != 10 {
			t.Fatalf("Len after replacing an item = %d, %v; want 10", n, err)
		}
		got, err := idx.Get(ctx, "u0004")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "replaced" || got.Type != "full" || cosine(got.Embedding, repl.Embedding) < 1-1e-6 {
			t.Errorf("replaced item = %+v", got)
		}
		hits, err := idx.Search(ctx, repl.Embedding, 1, Filter{Type: "full"})
		if err != nil || len(hits) != 1 || hits[0].ID != "u0004" || hits[0].Name != "replaced" {
			t.Errorf("search for the replaced embedding: %+v, %v", hits, err)
		}
	})
}

func TestBadInput(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		if err := idx.Add(ctx, []Item{{ID: "x", Embedding: []float32{1, 0, 0}}}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			it   Item
		}{
			{"empty id", Item{Embedding: []float32{1, 2, 3}}},
			{"no embedding", Item{ID: "y"}},
			{"zero embedding", Item{ID: "y", Embedding: []float32{0, 0, 0}}},
			{"NaN embedding", Item{ID: "y", Embedding: []float32{float32(math.NaN()), 0, 1}}},
			{"other dimension", Item{ID: "y", Embedding: []float32{1, 2}}},
		} {
			if err := idx.Add(ctx, []Item{tc.it}); err == nil {
				t.Errorf("%s: Add succeeded", tc.name)
			}
		}
		if _, err := idx.Search(ctx, []float32{0, 0, 0}, 3, Filter{}); err == nil {
			t.Error("search with a zero query succeeded")
		}
		if n, err := idx.Len(ctx); err != nil || n != 1 {
			t.Errorf("Len after rejected adds = %d, %v; want 1", n, err)
		}
	})
}

func TestOpenSpec(t *testing.T) {
	for _, spec := range []string{"", "weaviate://", "weaviate://127.0.0.1:1/lowercase"} {
		if idx, err := Open(t.Context(), spec); err == nil {
			idx.Close()
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
}

func TestConcurrentSearchAndAdd(t *testing.T) {
	forEach(t, func(t *testing.T, open func() Index) {
		ctx := t.Context()
		idx := open()
		items := randomItems(rand.New(rand.NewPCG(13, 14)), "c", 400, 16)
		if err := idx.Add(ctx, items[:40]); err != nil {
			t.Fatal(err)
		}
		// Weaviate's HNSW search is approximate: while the graph changes a filtered search may
		// return fewer than k hits, but never none and never out of order.
		_, exact := idx.(*Embedded)
		done := make(chan struct{})
		errs := make(chan error, 4)
		for g := range 4 {
			go func() {
				q := items[g].Embedding
				for {
					select {
					case <-done:
						errs <- nil
						return
					default:
					}
					hits, err := idx.Search(ctx, q, 5, Filter{Type: types[g%3]})
					if err == nil && ((exact && len(hits) != 5) || len(hits) == 0 || len(hits) > 5 || !slices.IsSortedFunc(hits, func(a, b Hit) int { return cmp.Compare(b.Score, a.Score) })) {
						err = fmt.Errorf("search during writes: %d hits, scores %v", len(hits), hits)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for lo := 40; lo < len(items); lo += 40 {
			if err := idx.Add(ctx, items[lo:lo+40]); err != nil {
				t.Error(err)
			}
			if err := idx.Delete(ctx, items[lo-40].ID); err != nil {
				t.Error(err)
			}
		}
		close(done)
		for range 4 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if n, err := idx.Len(ctx); err != nil || n != len(items)-9 {
			t.Errorf("Len = %d, %v; want %d", n, err, len(items)-9)
		}
	})
}
