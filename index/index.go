// Package index is the shop catalog index: items with their metadata and identity embeddings,
// searched by cosine similarity and filtered by garment type or category. Two implementations
// share one interface: an embedded index (a bbolt file searched exactly over an in-memory matrix,
// the default) and Weaviate (a distributed vector database reached over HTTP).
package index

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Item is one catalog entry.
type Item struct {
	// ID identifies the item in the shop; adding an item with an existing ID replaces it.
	ID string `json:"id"`
	// Name is the human-readable product name.
	Name string `json:"name,omitempty"`
	// Category is the DeepFashion category name (e.g. "Blouse").
	Category string `json:"category,omitempty"`
	// Type is the garment type as fashion.GarmentType.String writes it: "upper", "lower" or "full".
	Type string `json:"type,omitempty"`
	// Image is a path or URL of the item's picture.
	Image string `json:"image,omitempty"`
	// Meta holds any further string metadata (shop, colour, price...).
	Meta map[string]string `json:"meta,omitempty"`
	// Embedding is the identity embedding. Add stores it L2-normalised; Search leaves it nil in
	// its hits.
	Embedding []float32 `json:"embedding,omitempty"`
}

// MetaEmbeddingModel is the Meta key under which an item records the ID of the network that
// computed its embedding (model.Network.ID): embeddings of different networks are not
// comparable, so an item embedded by another network must be embedded again.
const MetaEmbeddingModel = "embedding_model"

// Filter restricts a search or a listing; an empty field matches every item.
type Filter struct {
	Type     string `json:"type,omitempty"`
	Category string `json:"category,omitempty"`
}

// Match reports whether it matches the filter.
func (f Filter) Match(it *Item) bool {
	return (f.Type == "" || f.Type == it.Type) && (f.Category == "" || f.Category == it.Category)
}

// Hit is one search result.
type Hit struct {
	Item
	// Score is the cosine similarity between the query and the item's embedding, in [-1, 1].
	Score float32 `json:"score"`
}

// Index is a catalog index. Implementations are safe for concurrent use. A write returns only
// once it is durable.
type Index interface {
	// Add inserts or replaces items (by ID). All embeddings must have the same, non-zero
	// dimension as those already stored.
	Add(ctx context.Context, items []Item) error
	// Delete removes the items with these IDs; unknown IDs are ignored.
	Delete(ctx context.Context, ids ...string) error
	// Get returns one item with its embedding, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Item, error)
	// Search returns up to k items matching f, most similar to vec first.
	Search(ctx context.Context, vec []float32, k int, f Filter) ([]Hit, error)
	// List returns up to limit items matching f, skipping the first offset, in a stable order
	// that depends on the implementation; embeddings are left nil.
	List(ctx context.Context, f Filter, offset, limit int) ([]Item, error)
	// Len returns the number of items.
	Len(ctx context.Context) (int, error)
	// Close releases the index.
	Close() error
}

// ErrNotFound is returned (wrapped) by Get for an unknown ID.
var ErrNotFound = errors.New("item not found")

// WeaviateScheme prefixes the specs that Open resolves to a Weaviate server.
const WeaviateScheme = "weaviate://"

// Open opens the index named by spec: "weaviate://HOST:PORT[/Class]" is a Weaviate server (class
// "CatalogItem" by default), anything else is the path of an embedded index file, created if
// missing.
func Open(ctx context.Context, spec string) (Index, error) {
	if rest, ok := strings.CutPrefix(spec, WeaviateScheme); ok {
		host, class, _ := strings.Cut(rest, "/")
		return OpenWeaviate(ctx, host, class)
	}
	if spec == "" {
		return nil, errors.New("empty index spec")
	}
	return OpenEmbedded(spec)
}

// normalized checks an item and returns a copy of its embedding scaled to unit length.
func normalized(it *Item) ([]float32, error) {
	if it.ID == "" {
		return nil, errors.New("item with an empty id")
	}
	if len(it.Embedding) == 0 {
		return nil, fmt.Errorf("item %q: no embedding", it.ID)
	}
	v, err := unit(it.Embedding)
	if err != nil {
		return nil, fmt.Errorf("item %q: %w", it.ID, err)
	}
	return v, nil
}

// unit returns a copy of v scaled to unit L2 norm; a zero or non-finite vector is an error.
func unit(v []float32) ([]float32, error) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return nil, fmt.Errorf("embedding of norm %g cannot be normalised", math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out, nil
}
