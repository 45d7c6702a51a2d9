package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/google/uuid"
	"github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"
)

// DefaultClass is the Weaviate class that holds the catalog when the spec names none.
const DefaultClass = "CatalogItem"

// Weaviate property names; "type" and "id" are avoided as they read like Weaviate's own fields.
const (
	propID       = "itemId"
	propName     = "name"
	propCategory = "category"
	propType     = "garmentType"
	propImage    = "image"
	propMeta     = "metaJson"
)

// weaviateBatch is the number of objects sent per batch request.
const weaviateBatch = 500

// HNSW parameters. The search list ef is four times Weaviate's dynamic default: on 100,000
// random 128-d unit vectors (atelier bench index, the hardest case: no low-dimensional structure)
// recall@10 was 0.79 with ef 256, 0.93 with 512 and 0.99 with 1024, at a p50 of 8, 14 and 25 ms.
var hnswConfig = map[string]any{
	"distance":       "cosine",
	"efConstruction": 128,
	"maxConnections": 32,
	"ef":             1024,
}

// itemNamespace derives an object UUID from an item ID, so that a repeated ID replaces its object.
var itemNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/atelier-ml/atelier/index"))

// className is what Weaviate accepts as a class name.
var className = regexp.MustCompile(`^[A-Z][_0-9A-Za-z]*$`)

// Weaviate is an index in a class of a Weaviate server, searched approximately with its HNSW
// index by cosine distance. A write returns once Weaviate has acknowledged every object of it;
// from then on its durability is the server's (its write-ahead logs).
type Weaviate struct {
	client *weaviate.Client
	class  string
}

var _ Index = (*Weaviate)(nil)

// OpenWeaviate connects to the Weaviate server at host ("HOST:PORT", plain HTTP, anonymous
// access) and creates the class if it is missing ("" means DefaultClass).
func OpenWeaviate(ctx context.Context, host, class string) (*Weaviate, error) {
	if class == "" {
		class = DefaultClass
	}
	if !className.MatchString(class) {
		return nil, fmt.Errorf("weaviate class %q: want an upper-case letter then letters, digits or _", class)
	}
	if host == "" {
		return nil, errors.New("weaviate index: no HOST:PORT")
	}
	client, err := weaviate.NewClient(weaviate.Config{Host: host, Scheme: "http", StartupTimeout: 5 * time.Second, Timeout: 2 * time.Minute})
	if err != nil {
		return nil, fmt.Errorf("connecting to weaviate at %s: %w", host, err)
	}
	w := &Weaviate{client: client, class: class}
	if err := w.ensureClass(ctx); err != nil {
		return nil, fmt.Errorf("weaviate at %s: %w", host, err)
	}
	return w, nil
}

func (w *Weaviate) ensureClass(ctx context.Context) error {
	exists, err := w.client.Schema().ClassExistenceChecker().WithClassName(w.class).Do(ctx)
	if err != nil {
		return fmt.Errorf("checking class %s: %w", w.class, err)
	}
	if exists {
		return nil
	}
	text := func(name string, filterable bool) *models.Property {
		return &models.Property{Name: name, DataType: []string{"text"}, Tokenization: models.PropertyTokenizationField,
			IndexFilterable: &filterable, IndexSearchable: new(false)}
	}
	class := &models.Class{
		Class:             w.class,
		Description:       "atelier catalog items",
		Vectorizer:        "none",
		VectorIndexType:   "hnsw",
		VectorIndexConfig: hnswConfig,
		Properties: []*models.Property{
			text(propID, true), text(propName, false), text(propCategory, true), text(propType, true),
			text(propImage, false), text(propMeta, false),
		},
	}
	if err := w.client.Schema().ClassCreator().WithClass(class).Do(ctx); err != nil {
		// Another client (a shard of the same import) may have created it meanwhile.
		if ok, _ := w.client.Schema().ClassExistenceChecker().WithClassName(w.class).Do(ctx); ok {
			return nil
		}
		return fmt.Errorf("creating class %s: %w", w.class, err)
	}
	return nil
}

// objectID is the Weaviate UUID of an item ID.
func objectID(id string) string { return uuid.NewSHA1(itemNamespace, []byte(id)).String() }

// Add imports the items in batches; each batch is acknowledged object by object.
func (w *Weaviate) Add(ctx context.Context, items []Item) error {
	objs := make([]*models.Object, len(items))
	for i := range items {
		it := &items[i]
		v, err := normalized(it)
		if err != nil {
			return err
		}
		meta := ""
		if len(it.Meta) > 0 {
			js, err := json.Marshal(it.Meta)
			if err != nil {
				return fmt.Errorf("item %q: %w", it.ID, err)
			}
			meta = string(js)
		}
		objs[i] = &models.Object{
			Class: w.class,
			ID:    strfmt.UUID(objectID(it.ID)),
			Properties: map[string]any{
				propID: it.ID, propName: it.Name, propCategory: it.Category, propType: it.Type,
				propImage: it.Image, propMeta: meta,
			},
			Vector: v,
		}
	}
	for lo := 0; lo < len(objs); lo += weaviateBatch {
		batch := objs[lo:min(lo+weaviateBatch, len(objs))]
		resp, err := w.client.Batch().ObjectsBatcher().WithObjects(batch...).Do(ctx)
		if err != nil {
			return fmt.Errorf("weaviate batch of %d items from %q: %w", len(batch), items[lo].ID, err)
		}
		for j, r := range resp {
			if r.Result != nil && r.Result.Errors != nil && len(r.Result.Errors.Error) > 0 {
				return fmt.Errorf("weaviate: item %q: %s", items[lo+j].ID, r.Result.Errors.Error[0].Message)
			}
		}
	}
	return nil
}

// Delete removes the items' objects; unknown IDs are ignored.
func (w *Weaviate) Delete(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		err := w.client.Data().Deleter().WithClassName(w.class).WithID(objectID(id)).Do(ctx)
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("weaviate: deleting item %q: %w", id, err)
		}
	}
	return nil
}

// Get fetches one item with its (unit) embedding.
func (w *Weaviate) Get(ctx context.Context, id string) (Item, error) {
	objs, err := w.client.Data().ObjectsGetter().WithClassName(w.class).WithID(objectID(id)).WithVector().Do(ctx)
	if isNotFound(err) || (err == nil && len(objs) == 0) {
		return Item{}, fmt.Errorf("item %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Item{}, fmt.Errorf("weaviate: getting item %q: %w", id, err)
	}
	props, err := json.Marshal(objs[0].Properties)
	if err != nil {
		return Item{}, fmt.Errorf("weaviate: item %q: %w", id, err)
	}
	var o wvObject
	if err := json.Unmarshal(props, &o); err != nil {
		return Item{}, fmt.Errorf("weaviate: item %q: %w", id, err)
	}
	it, err := o.item()
	if err != nil {
		return Item{}, err
	}
	it.Embedding = objs[0].Vector
	return it, nil
}

// Search runs a nearVector query with the filter as a where clause.
func (w *Weaviate) Search(ctx context.Context, vec []float32, k int, f Filter) ([]Hit, error) {
	if k <= 0 {
		return nil, nil
	}
	q, err := unit(vec)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	get := w.client.GraphQL().Get().WithClassName(w.class).WithFields(objectFields...).
		WithNearVector(w.client.GraphQL().NearVectorArgBuilder().WithVector(q)).WithLimit(k)
	if where := whereOf(f); where != nil {
		get = get.WithWhere(where)
	}
	objs, err := w.query(ctx, "Get", get.Do)
	if err != nil {
		return nil, fmt.Errorf("weaviate search: %w", err)
	}
	hits := make([]Hit, len(objs))
	for i, o := range objs {
		if hits[i].Item, err = o.item(); err != nil {
			return nil, err
		}
		hits[i].Score = 1 - o.Additional.Distance
	}
	return hits, nil
}

// List returns matching items sorted by ID.
func (w *Weaviate) List(ctx context.Context, f Filter, offset, limit int) ([]Item, error) {
	if offset < 0 || limit < 0 {
		return nil, fmt.Errorf("invalid offset %d or limit %d", offset, limit)
	}
	if limit == 0 {
		return nil, nil
	}
	get := w.client.GraphQL().Get().WithClassName(w.class).WithFields(objectFields...).
		WithSort(graphql.Sort{Path: []string{propID}, Order: graphql.Asc}).WithOffset(offset).WithLimit(limit)
	if where := whereOf(f); where != nil {
		get = get.WithWhere(where)
	}
	objs, err := w.query(ctx, "Get", get.Do)
	if err != nil {
		return nil, fmt.Errorf("weaviate list: %w", err)
	}
	items := make([]Item, len(objs))
	for i, o := range objs {
		if items[i], err = o.item(); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// Len counts the class's objects.
func (w *Weaviate) Len(ctx context.Context) (int, error) {
	agg := w.client.GraphQL().Aggregate().WithClassName(w.class).
		WithFields(graphql.Field{Name: "meta", Fields: []graphql.Field{{Name: "count"}}})
	objs, err := w.query(ctx, "Aggregate", agg.Do)
	if err != nil {
		return 0, fmt.Errorf("weaviate count: %w", err)
	}
	if len(objs) != 1 {
		return 0, fmt.Errorf("weaviate count: %d results", len(objs))
	}
	return objs[0].Meta.Count, nil
}

// Drop deletes the class with all its objects.
func (w *Weaviate) Drop(ctx context.Context) error {
	if err := w.client.Schema().ClassDeleter().WithClassName(w.class).Do(ctx); err != nil {
		return fmt.Errorf("weaviate: dropping class %s: %w", w.class, err)
	}
	return nil
}

// Close releases nothing: the client holds no connection of its own.
func (w *Weaviate) Close() error { return nil }

// objectFields are the fields a Get query returns.
var objectFields = []graphql.Field{
	{Name: propID}, {Name: propName}, {Name: propCategory}, {Name: propType}, {Name: propImage}, {Name: propMeta},
	{Name: "_additional", Fields: []graphql.Field{{Name: "distance"}}},
}

// wvObject is one object of a GraphQL answer (or the properties of a REST one).
type wvObject struct {
	ID         string `json:"itemId"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	Type       string `json:"garmentType"`
	Image      string `json:"image"`
	MetaJSON   string `json:"metaJson"`
	Additional struct {
		Distance float32 `json:"distance"`
	} `json:"_additional"`
	Meta struct {
		Count int `json:"count"`
	} `json:"meta"`
}

func (o *wvObject) item() (Item, error) {
	it := Item{ID: o.ID, Name: o.Name, Category: o.Category, Type: o.Type, Image: o.Image}
	if o.MetaJSON != "" {
		if err := json.Unmarshal([]byte(o.MetaJSON), &it.Meta); err != nil {
			return Item{}, fmt.Errorf("weaviate: item %q: metadata: %w", o.ID, err)
		}
	}
	return it, nil
}

// query runs a GraphQL query and decodes the objects of the class under data.op.
func (w *Weaviate) query(ctx context.Context, op string, do func(context.Context) (*models.GraphQLResponse, error)) ([]wvObject, error) {
	resp, err := do(ctx)
	if err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		return nil, errors.New(resp.Errors[0].Message)
	}
	js, err := json.Marshal(resp.Data[op])
	if err != nil {
		return nil, err
	}
	var byClass map[string][]wvObject
	if err := json.Unmarshal(js, &byClass); err != nil {
		return nil, fmt.Errorf("decoding answer: %w", err)
	}
	return byClass[w.class], nil
}

// whereOf turns a filter into a where clause; nil when it matches everything.
func whereOf(f Filter) *filters.WhereBuilder {
	var ops []*filters.WhereBuilder
	for _, c := range []struct{ prop, value string }{{propType, f.Type}, {propCategory, f.Category}} {
		if c.value != "" {
			ops = append(ops, filters.Where().WithPath([]string{c.prop}).WithOperator(filters.Equal).WithValueText(c.value))
		}
	}
	switch len(ops) {
	case 0:
		return nil
	case 1:
		return ops[0]
	}
	return filters.Where().WithOperator(filters.And).WithOperands(ops)
}

func isNotFound(err error) bool {
	var we *fault.WeaviateClientError
	return errors.As(err, &we) && we.StatusCode == http.StatusNotFound
}
