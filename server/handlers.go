package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/index"
)

// Limits of the query parameters.
const (
	defaultK     = 10
	maxK         = 100
	defaultLimit = 24
	maxLimit     = 200
	maxIDBytes   = 256
	// maxEmbeddingDim bounds a query vector sent as JSON; models embed in far fewer dimensions.
	maxEmbeddingDim = 4096
)

// itemView is a catalog item as the API shows it: its picture is a URL of this server, never
// the path or address the index stores.
type itemView struct {
	ID       string            `json:"id"`
	Name     string            `json:"name,omitempty"`
	Category string            `json:"category,omitempty"`
	Type     string            `json:"type,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
	ImageURL string            `json:"image_url,omitempty"`
}

func viewOf(it *index.Item) itemView {
	v := itemView{ID: it.ID, Name: it.Name, Category: it.Category, Type: it.Type, Meta: it.Meta}
	if it.Image != "" {
		v.ImageURL = "/v1/items/" + url.PathEscape(it.ID) + "/image"
	}
	return v
}

// match is one search result.
type match struct {
	itemView
	Score float32 `json:"score"`
}

func matchesOf(hits []index.Hit) []match {
	out := make([]match, len(hits))
	for i := range hits {
		out[i] = match{itemView: viewOf(&hits[i].Item), Score: hits[i].Score}
	}
	return out
}

// analyze decodes and analyses an uploaded image in an inference slot, as a catalog photo when
// catalog is set. The decode runs in the slot too, since a large image costs as much memory as
// the model.
func (s *Server) analyze(ctx context.Context, b *backend, up *upload, catalog bool) (analyze.Result, error) {
	release, err := s.limiter.acquire(ctx)
	if err != nil {
		if errors.Is(err, errQueueFull) {
			s.metrics.rejected.Inc()
		}
		return analyze.Result{}, err
	}
	defer release()
	start := time.Now()
	img, err := decodeImage(up.data, s.cfg.MaxPixels)
	if err != nil {
		return analyze.Result{}, err
	}
	decoded := time.Now()
	run := b.analyzer.Analyze
	if ca, ok := b.analyzer.(CatalogAnalyzer); ok && catalog {
		run = ca.AnalyzeCatalog
	}
	res, err := run(ctx, img, up.name)
	if err != nil {
		return analyze.Result{}, fmt.Errorf("analysing the uploaded image: %w", err)
	}
	s.observeInference(time.Since(start))
	if res.Timings == nil {
		res.Timings = map[string]float64{}
	}
	res.Timings["decode"] = float64(decoded.Sub(start).Microseconds()) / 1000
	s.metrics.observeTimings(res.Timings)
	if res.Width == 0 || res.Height == 0 {
		res.Width, res.Height = img.Bounds().Dx(), img.Bounds().Dy()
	}
	return res, nil
}

func (s *Server) handleAnalyze(w http.ResponseWriter, r *http.Request) {
	b, err := s.loaded()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	up, err := readUpload(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.analyze(r.Context(), b, up, false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// searchRequest is the JSON form of a search: by catalog item or by embedding (the web page
// sends the embedding of a garment it already analysed). A search by photo is a multipart or
// raw image request instead, with k and category_type as fields or query parameters.
type searchRequest struct {
	ItemID       string    `json:"item_id,omitempty"`
	Embedding    []float32 `json:"embedding,omitempty"`
	K            int       `json:"k,omitempty"`
	CategoryType string    `json:"category_type,omitempty"`
}

// searchResult holds the matches of one query: one per garment of a photo (with the garment,
// without its embedding), or a single one for a search by item or embedding.
type searchResult struct {
	Garment *analyze.Garment `json:"garment,omitempty"`
	Matches []match          `json:"matches"`
}

type searchResponse struct {
	Results []searchResult     `json:"results"`
	Width   int                `json:"width,omitempty"`
	Height  int                `json:"height,omitempty"`
	Timings map[string]float64 `json:"timings_ms,omitempty"`
}

// serveJSON writes what build makes of the request as a 200 JSON document, or its error.
func serveJSON[T any](s *Server, w http.ResponseWriter, r *http.Request, build func(*http.Request) (T, error)) {
	v, err := build(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, s.search)
}

func (s *Server) search(r *http.Request) (*searchResponse, error) {
	b, err := s.loaded()
	if err != nil {
		return nil, err
	}
	q, up, err := parseSearch(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	filter := index.Filter{Type: q.CategoryType}
	var hits []index.Hit
	switch {
	case up != nil:
		return s.searchPhoto(ctx, b, up, q)
	case q.ItemID != "":
		it, err := b.index.Get(ctx, q.ItemID)
		if err != nil {
			return nil, itemError(q.ItemID, err)
		}
		if hits, err = b.index.Search(ctx, it.Embedding, q.K+1, filter); err != nil {
			return nil, fmt.Errorf("searching like item %q: %w", q.ItemID, err)
		}
		hits = dropItem(hits, it.ID, q.K)
	default:
		if hits, err = b.index.Search(ctx, q.Embedding, q.K, filter); err != nil {
			return nil, fmt.Errorf("searching by embedding: %w", err)
		}
	}
	return &searchResponse{Results: []searchResult{{Matches: matchesOf(hits)}}}, nil
}

// parseSearch reads a search request: a JSON query, or a photo with its parameters (then the
// upload is not nil).
func parseSearch(r *http.Request) (searchRequest, *upload, error) {
	var q searchRequest
	var up *upload
	mt, _, err := mediaType(r)
	if err != nil {
		return q, nil, err
	}
	if mt == "application/json" {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return q, nil, jsonError(err)
		}
		if (q.ItemID == "") == (len(q.Embedding) == 0) {
			return q, nil, errorf(http.StatusBadRequest, "bad_query", "give exactly one of item_id and embedding (or send an image)")
		}
		if err := checkEmbedding(q.Embedding); err != nil {
			return q, nil, err
		}
	} else {
		if up, err = readUpload(r); err != nil {
			return q, nil, err
		}
		if q.K, err = intParam(up.fields, "k", 0); err != nil {
			return q, nil, err
		}
		q.CategoryType = up.fields.Get("category_type")
	}
	if q.K == 0 {
		q.K = defaultK
	}
	if q.K < 1 || q.K > maxK {
		return q, nil, errorf(http.StatusBadRequest, "bad_parameter", "k must be between 1 and %d, not %d", maxK, q.K)
	}
	if err := checkType(q.CategoryType, "category_type"); err != nil {
		return q, nil, err
	}
	return q, up, nil
}

// searchPhoto analyses a photo and searches the catalog for each of its garments (of type
// q.CategoryType, if set) among the items of the garment's type: street-to-shop retrieval.
func (s *Server) searchPhoto(ctx context.Context, b *backend, up *upload, q searchRequest) (*searchResponse, error) {
	res, err := s.analyze(ctx, b, up, false)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp := &searchResponse{Results: []searchResult{}, Width: res.Width, Height: res.Height, Timings: res.Timings}
	for _, g := range res.Garments {
		if (q.CategoryType != "" && g.Type != q.CategoryType) || len(g.Embedding) == 0 {
			continue
		}
		f := index.Filter{Type: g.Type}
		if g.Type == fashion.TypeUnknown.String() {
			f.Type = ""
		}
		hits, err := b.index.Search(ctx, g.Embedding, q.K, f)
		if err != nil {
			return nil, fmt.Errorf("searching for a %s garment: %w", g.Type, err)
		}
		g.Embedding = nil
		resp.Results = append(resp.Results, searchResult{Garment: &g, Matches: matchesOf(hits)})
	}
	took := map[string]float64{"search": float64(time.Since(start).Microseconds()) / 1000}
	s.metrics.observeTimings(took)
	resp.Timings["search"] = took["search"]
	return resp, nil
}

// dropItem removes the query item from its own results and keeps at most k.
func dropItem(hits []index.Hit, id string, k int) []index.Hit {
	out := hits[:0]
	for _, h := range hits {
		if h.ID != id {
			out = append(out, h)
		}
	}
	return out[:min(len(out), k)]
}

// listResponse is one page of the catalog.
type listResponse struct {
	Items   []itemView `json:"items"`
	Offset  int        `json:"offset"`
	Limit   int        `json:"limit"`
	HasMore bool       `json:"has_more"`
	// Total is the size of the whole catalog, given when the listing is not filtered.
	Total *int `json:"total,omitempty"`
}

func (s *Server) handleListItems(w http.ResponseWriter, r *http.Request) {
	serveJSON(s, w, r, s.listItems)
}

func (s *Server) listItems(r *http.Request) (*listResponse, error) {
	b, err := s.loaded()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	offset, err := intParam(q, "offset", 0)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(q, "limit", defaultLimit)
	if err != nil {
		return nil, err
	}
	if offset < 0 || limit < 1 || limit > maxLimit {
		return nil, errorf(http.StatusBadRequest, "bad_parameter", "offset must be >= 0 and limit between 1 and %d", maxLimit)
	}
	f := index.Filter{Type: q.Get("type"), Category: q.Get("category")}
	if err := checkType(f.Type, "type"); err != nil {
		return nil, err
	}
	// One more than asked tells whether there is a next page.
	items, err := b.index.List(r.Context(), f, offset, limit+1)
	if err != nil {
		return nil, fmt.Errorf("listing items: %w", err)
	}
	resp := &listResponse{Items: make([]itemView, 0, limit), Offset: offset, Limit: limit, HasMore: len(items) > limit}
	for i := range items[:min(len(items), limit)] {
		resp.Items = append(resp.Items, viewOf(&items[i]))
	}
	if f == (index.Filter{}) {
		n, err := b.index.Len(r.Context())
		if err != nil {
			return nil, fmt.Errorf("counting items: %w", err)
		}
		resp.Total = &n
	}
	return resp, nil
}

// addItemResponse is the item stored by POST /v1/items and the garment whose embedding it got.
type addItemResponse struct {
	Item    itemView        `json:"item"`
	Garment analyze.Garment `json:"garment"`
}

// handleAddItem adds (or replaces) a catalog item from a photo: the server analyses it and
// stores the embedding of its most confident garment (of the given type, if any). Form fields:
// id (generated if absent), name, category, type (both predicted if absent) and meta.KEY.
// It answers 201 only once the index has made the item durable.
func (s *Server) handleAddItem(w http.ResponseWriter, r *http.Request) {
	resp, err := s.addItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/items/"+url.PathEscape(resp.Item.ID))
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) addItem(r *http.Request) (*addItemResponse, error) {
	b, err := s.loaded()
	if err != nil {
		return nil, err
	}
	up, err := readUpload(r)
	if err != nil {
		return nil, err
	}
	it := index.Item{ID: up.fields.Get("id"), Name: up.fields.Get("name"), Category: up.fields.Get("category"), Type: up.fields.Get("type")}
	if it.ID == "" {
		it.ID = "item-" + randomID()
	}
	if err := checkID(it.ID); err != nil {
		return nil, err
	}
	if err := checkType(it.Type, "type"); err != nil {
		return nil, err
	}
	for k, v := range up.fields {
		if key, ok := strings.CutPrefix(k, "meta."); ok && key != "" {
			if it.Meta == nil {
				it.Meta = map[string]string{}
			}
			it.Meta[key] = v[0]
		}
	}
	ctx := r.Context()
	res, err := s.analyze(ctx, b, up, true)
	if err != nil {
		return nil, err
	}
	g, ok := bestGarment(res.Garments, it.Type)
	if !ok {
		what := "garment"
		if it.Type != "" {
			what = it.Type + " garment"
		}
		return nil, errorf(http.StatusUnprocessableEntity, "no_garment", "no %s was found in the image", what)
	}
	it.Embedding = g.Embedding
	if em, ok := b.analyzer.(EmbeddingModeler); ok && em.EmbeddingModel() != "" {
		if it.Meta == nil {
			it.Meta = map[string]string{}
		}
		it.Meta[index.MetaEmbeddingModel] = em.EmbeddingModel()
	}
	if it.Type == "" {
		it.Type = g.Type
	}
	if it.Category == "" {
		it.Category = g.Category.Name
	}
	if s.cfg.ImageDir != "" {
		if it.Image, err = saveImage(s.cfg.ImageDir, up.data); err != nil {
			return nil, err
		}
	}
	if err := b.index.Add(ctx, []index.Item{it}); err != nil {
		return nil, fmt.Errorf("adding item %q: %w", it.ID, err)
	}
	logger(ctx).Info("item added", "id", it.ID, "type", it.Type, "category", it.Category)
	g.Embedding = nil
	return &addItemResponse{Item: viewOf(&it), Garment: g}, nil
}

// bestGarment returns the most confident garment with an embedding, of type typ if not empty.
func bestGarment(gs []analyze.Garment, typ string) (analyze.Garment, bool) {
	best := -1
	for i, g := range gs {
		if len(g.Embedding) > 0 && (typ == "" || g.Type == typ) && (best < 0 || g.Score > gs[best].Score) {
			best = i
		}
	}
	if best < 0 {
		return analyze.Garment{}, false
	}
	return gs[best], true
}

// pathItem returns the loaded backend and the catalog item that the request's path names.
func (s *Server) pathItem(r *http.Request) (*backend, index.Item, error) {
	b, err := s.loaded()
	if err != nil {
		return nil, index.Item{}, err
	}
	id := r.PathValue("id")
	it, err := b.index.Get(r.Context(), id)
	if err != nil {
		return nil, index.Item{}, itemError(id, err)
	}
	return b, it, nil
}

func (s *Server) handleGetItem(w http.ResponseWriter, r *http.Request) {
	_, it, err := s.pathItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(&it))
}

func (s *Server) handleDeleteItem(w http.ResponseWriter, r *http.Request) {
	b, _, err := s.pathItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	if err := b.index.Delete(ctx, id); err != nil {
		s.writeError(w, r, fmt.Errorf("deleting item %q: %w", id, err))
		return
	}
	logger(ctx).Info("item deleted", "id", id)
	w.WriteHeader(http.StatusNoContent)
}

// handleItemImage serves an item's picture: a redirect for a URL, the file for a path.
// Only JPEG, PNG and WebP files are served, so that an item cannot expose any other file.
func (s *Server) handleItemImage(w http.ResponseWriter, r *http.Request) {
	_, it, err := s.pathItem(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if strings.HasPrefix(it.Image, "http://") || strings.HasPrefix(it.Image, "https://") {
		http.Redirect(w, r, it.Image, http.StatusFound)
		return
	}
	path := it.Image
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(s.cfg.ImageDir, path)
	}
	f, err := openImage(path)
	if err != nil {
		logger(r.Context()).Warn("item image unavailable", "id", id, "err", err)
		s.writeError(w, r, errorf(http.StatusNotFound, "no_image", "item %q has no picture", id))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "image/"+f.format)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", f.modTime, f)
}

// itemError maps an index lookup failure to a 404 for an unknown item.
func itemError(id string, err error) error {
	if errors.Is(err, index.ErrNotFound) {
		return errorf(http.StatusNotFound, "item_not_found", "no item %q in the catalog", id)
	}
	return fmt.Errorf("reading item %q: %w", id, err)
}

// jsonError describes a malformed JSON body.
func jsonError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return bodyError(err)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "empty_body", "the request has an empty JSON body")
	}
	return errorf(http.StatusBadRequest, "bad_json", "the JSON body is not valid: %v", err)
}

// intParam parses an optional integer parameter.
func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "bad_parameter", "%s must be an integer, not %q", name, v)
	}
	return n, nil
}

// checkType accepts an empty garment type or one of fashion's names.
func checkType(t, param string) error {
	if t == "" {
		return nil
	}
	if _, err := fashion.ParseGarmentType(t); err != nil {
		return errorf(http.StatusBadRequest, "bad_parameter", "%s: %v", param, err)
	}
	return nil
}

// checkEmbedding refuses query vectors that no index can score: too long, non-finite, or zero.
func checkEmbedding(v []float32) error {
	if len(v) == 0 {
		return nil
	}
	if len(v) > maxEmbeddingDim {
		return errorf(http.StatusBadRequest, "bad_query", "the embedding has %d values; at most %d are accepted", len(v), maxEmbeddingDim)
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return errorf(http.StatusBadRequest, "bad_query", "the embedding must be finite and not zero")
	}
	return nil
}

// checkID accepts printable UTF-8 ids of reasonable length.
func checkID(id string) error {
	if len(id) > maxIDBytes || !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return errorf(http.StatusBadRequest, "bad_parameter", "an item id is printable UTF-8 of at most %d bytes", maxIDBytes)
	}
	return nil
}

// imageFile is an open picture file with what ServeContent needs.
type imageFile struct {
	*os.File
	format  string
	modTime time.Time
}

// openImage opens a local picture and checks that it is a JPEG, PNG or WebP file.
func openImage(path string) (*imageFile, error) {
	if path == "" {
		return nil, errors.New("no image path")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, err)
	}
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	format := pictureFormat(head[:n])
	if format == "" {
		f.Close()
		return nil, fmt.Errorf("%s is not a JPEG, PNG or WebP file", path)
	}
	return &imageFile{File: f, format: format, modTime: st.ModTime()}, nil
}
