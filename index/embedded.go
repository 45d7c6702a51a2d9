package index

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// itemsBucket holds one record per item, keyed by item ID (see encodeRecord).
var itemsBucket = []byte("items")

// Embedded is the default index: items live in a bbolt file and, once opened, in memory, where
// a query is scored exactly against every embedding of a contiguous float32 matrix.
type Embedded struct {
	db *bolt.DB

	writeMu sync.Mutex   // serialises writers, so that memory follows the commit order
	mu      sync.RWMutex // guards the fields below
	dim     int          // embedding dimension, 0 while empty
	mat     []float32    // row i is the unit embedding of items[i]
	items   []Item       // metadata, Embedding nil
	pos     map[string]int
}

var _ Index = (*Embedded)(nil)

// OpenEmbedded opens (or creates) the embedded index stored in the file at path and loads it into
// memory. Only one process may hold the file open.
func OpenEmbedded(path string) (*Embedded, error) {
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening index %s: %w", path, err)
	}
	e := &Embedded{db: db, pos: map[string]int{}}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(itemsBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			it, vec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("item %q: %w", k, err)
			}
			it.ID = string(k)
			return e.put(it, vec)
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("loading index %s: %w", path, err)
	}
	return e, nil
}

// put stores it (whose embedding is vec, of unit norm) in memory, replacing an item with the same
// ID. The caller holds mu for writing.
func (e *Embedded) put(it Item, vec []float32) error {
	if e.dim == 0 {
		e.dim = len(vec)
	}
	if len(vec) != e.dim {
		return fmt.Errorf("embedding of dimension %d in an index of dimension %d", len(vec), e.dim)
	}
	it.Embedding = nil
	if i, ok := e.pos[it.ID]; ok {
		e.items[i] = it
		copy(e.mat[i*e.dim:], vec)
		return nil
	}
	e.pos[it.ID] = len(e.items)
	e.items = append(e.items, it)
	e.mat = append(e.mat, vec...)
	return nil
}

// remove deletes the item with this ID from memory by moving the last row into its place. The
// caller holds mu for writing.
func (e *Embedded) remove(id string) {
	i, ok := e.pos[id]
	if !ok {
		return
	}
	last := len(e.items) - 1
	if i != last {
		e.items[i] = e.items[last]
		e.pos[e.items[i].ID] = i
		copy(e.mat[i*e.dim:(i+1)*e.dim], e.mat[last*e.dim:])
	}
	e.items[last] = Item{}
	e.items = e.items[:last]
	e.mat = e.mat[:last*e.dim]
	delete(e.pos, id)
	if last == 0 {
		e.dim = 0
	}
}

// Add stores the items durably (one fsynced bbolt transaction) before making them searchable.
func (e *Embedded) Add(ctx context.Context, items []Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	vecs := make([][]float32, len(items))
	for i := range items {
		v, err := normalized(&items[i])
		if err != nil {
			return err
		}
		if i > 0 && len(v) != len(vecs[0]) {
			return fmt.Errorf("item %q: embedding of dimension %d, item %q has %d", items[i].ID, len(v), items[0].ID, len(vecs[0]))
		}
		vecs[i] = v
	}
	if len(items) == 0 {
		return nil
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.RLock()
	dim, n := e.dim, len(e.items)
	e.mu.RUnlock()
	// An index emptied by deletes takes the new dimension.
	if n > 0 && dim != len(vecs[0]) {
		return fmt.Errorf("item %q: embedding of dimension %d in an index of dimension %d", items[0].ID, len(vecs[0]), dim)
	}
	err := e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(itemsBucket)
		for i := range items {
			rec, err := encodeRecord(&items[i], vecs[i])
			if err != nil {
				return err
			}
			if err := b.Put([]byte(items[i].ID), rec); err != nil {
				return fmt.Errorf("item %q: %w", items[i].ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding %d items: %w", len(items), err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range items {
		it := items[i]
		it.Meta = maps.Clone(it.Meta)
		if err := e.put(it, vecs[i]); err != nil {
			return fmt.Errorf("item %q: %w", it.ID, err) // unreachable: dimensions were checked
		}
	}
	return nil
}

// Delete removes the items durably, then from memory.
func (e *Embedded) Delete(ctx context.Context, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	err := e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(itemsBucket)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return fmt.Errorf("item %q: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("deleting %d items: %w", len(ids), err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		e.remove(id)
	}
	return nil
}

// Get returns the item with its unit embedding.
func (e *Embedded) Get(ctx context.Context, id string) (Item, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	i, ok := e.pos[id]
	if !ok {
		return Item{}, fmt.Errorf("item %q: %w", id, ErrNotFound)
	}
	it := e.items[i]
	it.Meta = maps.Clone(it.Meta)
	it.Embedding = slices.Clone(e.mat[i*e.dim : (i+1)*e.dim])
	return it, nil
}

// Len returns the number of items.
func (e *Embedded) Len(ctx context.Context) (int, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.items), nil
}

// List returns matching items ordered by ID.
func (e *Embedded) List(ctx context.Context, f Filter, offset, limit int) ([]Item, error) {
	if offset < 0 || limit < 0 {
		return nil, fmt.Errorf("invalid offset %d or limit %d", offset, limit)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	var match []int
	for i := range e.items {
		if f.Match(&e.items[i]) {
			match = append(match, i)
		}
	}
	slices.SortFunc(match, func(a, b int) int { return strings.Compare(e.items[a].ID, e.items[b].ID) })
	match = match[min(offset, len(match)):]
	match = match[:min(limit, len(match))]
	out := make([]Item, len(match))
	for j, i := range match {
		out[j] = e.items[i]
		out[j].Meta = maps.Clone(out[j].Meta)
	}
	return out, nil
}

// parallelMin is the number of matrix elements above which a search is split across CPUs.
const parallelMin = 1 << 18

// Search scores vec against every stored embedding and keeps the k best that match f.
func (e *Embedded) Search(ctx context.Context, vec []float32, k int, f Filter) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	q, err := unit(vec)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := len(e.items)
	if n == 0 {
		return nil, nil
	}
	if len(q) != e.dim {
		return nil, fmt.Errorf("query of dimension %d in an index of dimension %d", len(q), e.dim)
	}
	parts := min(runtime.GOMAXPROCS(0), max(1, n*e.dim/parallelMin))
	tops := make([]topK, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { tops[p] = e.scan(q, lo, hi, k, f) })
	}
	wg.Wait()
	all := tops[0]
	for _, t := range tops[1:] {
		for _, c := range t {
			all = all.push(c, k, e.items)
		}
	}
	slices.SortFunc(all, func(a, b cand) int { return cmpCand(b, a, e.items) })
	hits := make([]Hit, len(all))
	for j, c := range all {
		hits[j] = Hit{Item: e.items[c.row], Score: c.score}
		hits[j].Meta = maps.Clone(hits[j].Meta)
	}
	return hits, nil
}

// scanBlock is the number of rows scored per kernel call: their scores stay in L1.
const scanBlock = 256

// scan returns the k best rows in [lo, hi) that match f. The caller holds mu.
func (e *Embedded) scan(q []float32, lo, hi, k int, f Filter) topK {
	var scores [scanBlock]float32
	all := f == Filter{}
	t := make(topK, 0, k)
	for b := lo; b < hi; b += scanBlock {
		m := min(scanBlock, hi-b)
		dotRows(e.mat[b*e.dim:(b+m)*e.dim], q, scores[:m])
		for j, s := range scores[:m] {
			row := b + j
			if len(t) == k && s < t[0].score {
				continue
			}
			if all || f.Match(&e.items[row]) {
				t = t.push(cand{score: s, row: row}, k, e.items)
			}
		}
	}
	return t
}

// Close closes the bbolt file.
func (e *Embedded) Close() error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("closing index %s: %w", e.db.Path(), err)
	}
	return nil
}

// Check runs bbolt's consistency check on the file and returns every problem it finds.
func (e *Embedded) Check() error {
	return e.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// A record is the embedding dimension (uint32), the embedding (little-endian float32) and the
// item's metadata as JSON (ID and embedding omitted: the key holds the ID).
func encodeRecord(it *Item, vec []float32) ([]byte, error) {
	meta := *it
	meta.ID, meta.Embedding = "", nil
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("item %q: %w", it.ID, err)
	}
	rec := make([]byte, 4+4*len(vec), 4+4*len(vec)+len(js))
	binary.LittleEndian.PutUint32(rec, uint32(len(vec)))
	for i, x := range vec {
		binary.LittleEndian.PutUint32(rec[4+4*i:], math.Float32bits(x))
	}
	return append(rec, js...), nil
}

func decodeRecord(rec []byte) (Item, []float32, error) {
	if len(rec) < 4 {
		return Item{}, nil, fmt.Errorf("record of %d bytes", len(rec))
	}
	n := int(binary.LittleEndian.Uint32(rec))
	if n == 0 || len(rec) < 4+4*n {
		return Item{}, nil, fmt.Errorf("record of %d bytes holds no %d-d embedding", len(rec), n)
	}
	vec := make([]float32, n)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(rec[4+4*i:]))
	}
	var it Item
	if err := json.Unmarshal(rec[4+4*n:], &it); err != nil {
		return Item{}, nil, fmt.Errorf("metadata: %w", err)
	}
	return it, vec, nil
}
