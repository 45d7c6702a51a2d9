package eval

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// RetrievalKs are the k of the DeepFashion retrieval protocols.
var RetrievalKs = []int{1, 5, 10, 20, 30, 40, 50}

// RetrievalResult is the "inshop" or "c2s" section of `atelier eval fashionnet`: top-k
// accuracy (recall@k), the share of queries for which at least one of the k nearest gallery
// images shows the query's item. Queries whose item has no gallery image count as misses and
// are also counted in Unmatched.
type RetrievalResult struct {
	Top1      Value `json:"top1"`
	Top5      Value `json:"top5"`
	Top10     Value `json:"top10"`
	Top20     Value `json:"top20"`
	Top30     Value `json:"top30"`
	Top40     Value `json:"top40"`
	Top50     Value `json:"top50"`
	Queries   int   `json:"queries"`
	Unmatched int   `json:"queries_without_match"`
}

// Retrieval ranks the gallery for every query by cosine similarity of the embeddings (each is
// L2-normalised first; a zero vector has similarity 0 to everything) and scores the rankings
// with RetrievalFromRanks. In-shop retrieval passes the query and gallery images; consumer-to-shop
// passes the consumer images as queries and the shop images as the gallery. The two sets are
// disjoint by protocol, so no query is excluded from its own ranking. The exact similarity
// matrix is computed in blocks on every CPU, never stored whole.
func Retrieval(queries, gallery [][]float32, queryIDs, galleryIDs []string) (RetrievalResult, error) {
	ranks, err := RetrievalRanks(queries, gallery, queryIDs, galleryIDs)
	if err != nil {
		return RetrievalResult{}, err
	}
	return RetrievalFromRanks(ranks), nil
}

// RetrievalFromDistances is Retrieval for a precomputed query x gallery distance matrix
// (smaller is nearer).
func RetrievalFromDistances(dist [][]float32, queryIDs, galleryIDs []string) (RetrievalResult, error) {
	if len(dist) != len(queryIDs) {
		return RetrievalResult{}, fmt.Errorf("retrieval: %d distance rows for %d queries", len(dist), len(queryIDs))
	}
	pos := itemRows(queryIDs, galleryIDs)
	ranks := make([]int, len(dist))
	sim := make([]float32, len(galleryIDs))
	for i, row := range dist {
		if len(row) != len(galleryIDs) {
			return RetrievalResult{}, fmt.Errorf("retrieval: distance row %d has %d entries for %d gallery images", i, len(row), len(galleryIDs))
		}
		for j, d := range row {
			sim[j] = -d
		}
		ranks[i] = firstHitRank(sim, pos[i])
	}
	return RetrievalFromRanks(ranks), nil
}

// RetrievalFromRanks turns each query's first-hit rank (0-based; -1 when the gallery has no
// image of its item) into top-k accuracies.
func RetrievalFromRanks(ranks []int) RetrievalResult {
	var hits [7]int
	res := RetrievalResult{Queries: len(ranks)}
	for _, r := range ranks {
		if r < 0 {
			res.Unmatched++
			continue
		}
		for j, k := range RetrievalKs {
			if r < k {
				hits[j]++
			}
		}
	}
	acc := func(j int) Value { return Value(ratio(hits[j], len(ranks))) }
	res.Top1, res.Top5, res.Top10, res.Top20 = acc(0), acc(1), acc(2), acc(3)
	res.Top30, res.Top40, res.Top50 = acc(4), acc(5), acc(6)
	return res
}

// itemRows returns, for each query, the gallery rows that show its item (nil when none); the
// queries of one item share one slice.
func itemRows(queryIDs, galleryIDs []string) [][]int32 {
	rows := make(map[string][]int32)
	for j, id := range galleryIDs {
		rows[id] = append(rows[id], int32(j))
	}
	out := make([][]int32, len(queryIDs))
	for i, id := range queryIDs {
		out[i] = rows[id]
	}
	return out
}

// firstHitRank returns the 0-based rank of the most similar gallery row among pos (the rows of
// the query's item, increasing) when the gallery is sorted by decreasing similarity, ties in
// gallery order; -1 when pos is empty. It counts instead of sorting: with s the best positive's
// similarity and b its row, the rank is the number of rows above s plus the rows before b equal
// to s; no positive is among them, as b is the first positive of the highest similarity.
func firstHitRank(sim []float32, pos []int32) int {
	if len(pos) == 0 {
		return -1
	}
	b := pos[0]
	for _, j := range pos[1:] {
		if sim[j] > sim[b] {
			b = j
		}
	}
	s, r := sim[b], 0
	for _, v := range sim[:b] {
		if v >= s {
			r++
		}
	}
	for _, v := range sim[b:] {
		if v > s {
			r++
		}
	}
	return r
}

// normalized copies rows into one row-major matrix of unit rows, with zero rows appended up to
// a multiple of pad rows.
func normalized(rows [][]float32, dim, pad int) ([]float32, error) {
	m := make([]float32, (len(rows)+pad-1)/pad*pad*dim)
	for i, r := range rows {
		if len(r) != dim {
			return nil, fmt.Errorf("embedding %d has %d values, want %d", i, len(r), dim)
		}
		var ss float64
		for _, v := range r {
			ss += float64(v) * float64(v)
		}
		if ss == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(ss))
		for k, v := range r {
			m[i*dim+k] = v * inv
		}
	}
	return m, nil
}

// The similarity matrix is computed for blocks of retrievalQueryBlock queries (a multiple of the
// kernel's 4) against retrievalGalleryBlock gallery rows (a multiple of its 16) at a time, so that
// the gallery block (128-d: 256 KiB) stays in cache while every query of the block passes over it.
const (
	retrievalQueryBlock   = 16
	retrievalGalleryBlock = 512
)

// RetrievalRanks returns each query's first-hit rank (see RetrievalFromRanks) under cosine
// similarity.
func RetrievalRanks(queries, gallery [][]float32, queryIDs, galleryIDs []string) ([]int, error) {
	if len(queries) != len(queryIDs) || len(gallery) != len(galleryIDs) {
		return nil, fmt.Errorf("retrieval: %d queries with %d ids, %d gallery images with %d ids",
			len(queries), len(queryIDs), len(gallery), len(galleryIDs))
	}
	if len(queries) == 0 || len(gallery) == 0 {
		return nil, fmt.Errorf("retrieval: %d queries and %d gallery images; need both", len(queries), len(gallery))
	}
	dim := len(gallery[0])
	q, err := normalized(queries, dim, 4)
	if err != nil {
		return nil, fmt.Errorf("retrieval queries: %w", err)
	}
	g, err := normalized(gallery, dim, 1)
	if err != nil {
		return nil, fmt.Errorf("retrieval gallery: %w", err)
	}
	nq, ng := len(queries), len(gallery)
	panels := packPanels(g, ng, dim)
	ngp := len(panels) / dim // gallery rows padded to a multiple of 16
	pos := itemRows(queryIDs, galleryIDs)
	ranks := make([]int, nq)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), (nq+retrievalQueryBlock-1)/retrievalQueryBlock) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sims := make([]float32, retrievalQueryBlock*ngp)
			qb := make([]float32, retrievalQueryBlock*8*dim)
			for {
				q0 := int(next.Add(retrievalQueryBlock)) - retrievalQueryBlock
				if q0 >= nq {
					return
				}
				q1 := min(q0+retrievalQueryBlock, len(q)/dim)
				for i := q0; i < q1; i += 4 {
					broadcastQueries(qb[(i-q0)*8*dim:], q[i*dim:(i+4)*dim], dim)
				}
				for g0 := 0; g0 < ngp; g0 += retrievalGalleryBlock {
					g1 := min(g0+retrievalGalleryBlock, ngp)
					for i := q0; i < q1; i += 4 {
						dotPacked(panels[g0*dim:g1*dim], qb[(i-q0)*8*dim:(i-q0+4)*8*dim], dim, sims[(i-q0)*ngp+g0:], ngp)
					}
				}
				for i := q0; i < min(q1, nq); i++ {
					ranks[i] = firstHitRank(sims[(i-q0)*ngp:(i-q0)*ngp+ng], pos[i])
				}
			}
		}()
	}
	wg.Wait()
	return ranks, nil
}
