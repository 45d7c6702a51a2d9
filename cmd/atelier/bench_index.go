package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/atelier-ml/atelier/index"
)

func init() {
	registerBenchmark("index", "catalog search on 100,000 random 128-d items: recall@10 against brute force and latency of the embedded index (goal: recall 1.0) and of Weaviate when --weaviate HOST:PORT or ATELIER_WEAVIATE is given (goal: recall >= 0.95) [--items N --dim D --queries Q --seed S]", benchIndex)
}

// indexBenchResult is what the index benchmark prints.
type indexBenchResult struct {
	Items    int                `json:"items"`
	Dim      int                `json:"dim"`
	K        int                `json:"k"`
	Queries  int                `json:"queries"`
	CPUs     int                `json:"cpus"`
	Embedded indexFigures       `json:"embedded"`
	Weaviate *indexFigures      `json:"weaviate,omitempty"`
	Goals    map[string]float64 `json:"goals"`
	GoalsMet bool               `json:"goals_met"`
}

// indexFigures are one index's figures: unfiltered and filtered by garment type.
type indexFigures struct {
	Spec        string       `json:"spec"`
	AddSeconds  float64      `json:"add_seconds"`
	AddPerSec   float64      `json:"items_added_per_second"`
	All         searchFigure `json:"unfiltered"`
	FilterUpper searchFigure `json:"filter_type_upper"`
}

// searchFigure is the mean recall@k and the latency percentiles of one set of queries.
type searchFigure struct {
	RecallAtK float64 `json:"recall_at_k"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	QPS       float64 `json:"queries_per_second"`
}

var indexBenchTypes = []string{"upper", "lower", "full"}

func benchIndex(ctx context.Context, args []string, progress io.Writer) (any, error) {
	fs := flag.NewFlagSet("index", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("items", 100_000, "catalog items")
	dim := fs.Int("dim", 128, "embedding dimension")
	queries := fs.Int("queries", 200, "queries per figure")
	seed := fs.Uint64("seed", 1, "random seed")
	addr := fs.String("weaviate", os.Getenv("ATELIER_WEAVIATE"), "Weaviate HOST:PORT (default $ATELIER_WEAVIATE; none: embedded only)")
	if err := fs.Parse(args); err != nil {
		return nil, badInputf("bench index: %v", err)
	}
	if *n < 10 || *dim < 1 || *queries < 1 {
		return nil, badInputf("bench index: want --items >= 10, --dim >= 1, --queries >= 1")
	}
	const k = 10
	r := rand.New(rand.NewPCG(*seed, 0x1dea))
	items := make([]index.Item, *n)
	for i := range items {
		items[i] = index.Item{ID: fmt.Sprintf("item%07d", i), Type: indexBenchTypes[r.IntN(len(indexBenchTypes))],
			Category: "c", Embedding: randomUnit(r, *dim)}
	}
	qs := make([][]float32, *queries)
	for i := range qs {
		qs[i] = randomUnit(r, *dim)
	}
	fmt.Fprintf(progress, "brute force: %d queries over %d items ...\n", 2**queries, *n)
	truth := map[string][][]string{"": bruteForceTopK(items, qs, k, ""), "upper": bruteForceTopK(items, qs, k, "upper")}

	res := indexBenchResult{Items: *n, Dim: *dim, K: k, Queries: *queries, CPUs: runtime.NumCPU(),
		Goals: map[string]float64{"embedded_recall_at_k": 1, "weaviate_recall_at_k": 0.95}}
	tmp, err := os.MkdirTemp("", "atelier-bench-index-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	emb, err := measureIndex(ctx, filepath.Join(tmp, "catalog.db"), items, qs, truth, k, progress)
	if err != nil {
		return nil, err
	}
	res.Embedded = emb
	res.GoalsMet = emb.All.RecallAtK == 1 && emb.FilterUpper.RecallAtK == 1
	if *addr != "" {
		class := fmt.Sprintf("BenchIndex%d", time.Now().UnixNano())
		wv, err := measureIndex(ctx, index.WeaviateScheme+*addr+"/"+class, items, qs, truth, k, progress)
		if err != nil {
			return nil, err
		}
		res.Weaviate = &wv
		res.GoalsMet = res.GoalsMet && wv.All.RecallAtK >= 0.95 && wv.FilterUpper.RecallAtK >= 0.95
	}
	return res, nil
}

// measureIndex fills the index named by spec (dropping it afterwards if it is Weaviate's) and
// measures its searches against the brute-force answers.
func measureIndex(ctx context.Context, spec string, items []index.Item, qs [][]float32, truth map[string][][]string, k int, progress io.Writer) (indexFigures, error) {
	idx, err := index.Open(ctx, spec)
	if err != nil {
		return indexFigures{}, err
	}
	defer idx.Close()
	if w, ok := idx.(*index.Weaviate); ok {
		defer w.Drop(context.WithoutCancel(ctx))
	}
	fig := indexFigures{Spec: spec}
	bar := newBar(progress, len(items), "adding to "+spec, "")
	start := time.Now()
	const batch = 5000
	for lo := 0; lo < len(items); lo += batch {
		chunk := items[lo:min(lo+batch, len(items))]
		if err := idx.Add(ctx, chunk); err != nil {
			return fig, err
		}
		bar.Add(len(chunk))
	}
	bar.Finish()
	fig.AddSeconds = time.Since(start).Seconds()
	fig.AddPerSec = float64(len(items)) / fig.AddSeconds
	fmt.Fprintf(progress, "%s: %d items added in %.1f s\n", spec, len(items), fig.AddSeconds)
	for _, typ := range []string{"", "upper"} {
		f, err := measureSearch(ctx, idx, qs, truth[typ], k, index.Filter{Type: typ})
		if err != nil {
			return fig, err
		}
		if typ == "" {
			fig.All = f
		} else {
			fig.FilterUpper = f
		}
	}
	return fig, nil
}

// measureSearch runs the queries one after the other (after one warm-up round).
func measureSearch(ctx context.Context, idx index.Index, qs [][]float32, truth [][]string, k int, f index.Filter) (searchFigure, error) {
	for _, q := range qs[:min(10, len(qs))] {
		if _, err := idx.Search(ctx, q, k, f); err != nil {
			return searchFigure{}, err
		}
	}
	lat := make([]time.Duration, len(qs))
	var recall float64
	start := time.Now()
	for i, q := range qs {
		t := time.Now()
		hits, err := idx.Search(ctx, q, k, f)
		lat[i] = time.Since(t)
		if err != nil {
			return searchFigure{}, err
		}
		found := 0
		for _, h := range hits {
			if slices.Contains(truth[i], h.ID) {
				found++
			}
		}
		recall += float64(found) / float64(len(truth[i]))
	}
	total := time.Since(start)
	slices.Sort(lat)
	ms := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return searchFigure{RecallAtK: recall / float64(len(qs)), P50Ms: ms(0.50), P99Ms: ms(0.99),
		QPS: float64(len(qs)) / total.Seconds()}, nil
}

// bruteForceTopK returns, for each query, the IDs of the k items of this type (any if "") of
// highest cosine similarity, computed in float64 independently of the index package.
func bruteForceTopK(items []index.Item, qs [][]float32, k int, typ string) [][]string {
	out := make([][]string, len(qs))
	type scored struct {
		s  float64
		id string
	}
	for qi, q := range qs {
		var best []scored // ascending, at most k
		for _, it := range items {
			if typ != "" && it.Type != typ {
				continue
			}
			var dot, nn float64
			for j, x := range it.Embedding {
				dot += float64(x) * float64(q[j])
				nn += float64(x) * float64(x)
			}
			s := dot / math.Sqrt(nn)
			if len(best) == k && s <= best[0].s {
				continue
			}
			at, _ := slices.BinarySearchFunc(best, s, func(e scored, t float64) int {
				if e.s < t {
					return -1
				}
				return 1
			})
			best = slices.Insert(best, at, scored{s, it.ID})
			if len(best) > k {
				best = best[1:]
			}
		}
		for _, b := range best {
			out[qi] = append(out[qi], b.id)
		}
	}
	return out
}

// randomUnit is a random direction: Gaussian components, scaled to unit length.
func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var ss float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		ss += x * x
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}
