package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/server"
)

// interruptAfterAdd stops the fill (as SIGINT does) once its first batch is acknowledged.
type interruptAfterAdd struct {
	index.Index
	cancel context.CancelFunc
}

func (x interruptAfterAdd) Add(ctx context.Context, items []index.Item) error {
	defer x.cancel()
	return x.Index.Add(ctx, items)
}

// TestDemoCatalog interrupts a first fill of the demo catalog after its first batch, lets serve
// resume it and serve its pictures, and checks that a further fill adds nothing.
func TestDemoCatalog(t *testing.T) {
	bundle, _ := writeRetrievalBundle(t)
	dir := t.TempDir()
	o := testServeOptions(dir)
	o.model, o.minScore, o.demoItems = bundle, 1e-9, 2
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dbPath := filepath.Join(dir, "catalog.db")
	fill := func(n int, interrupt bool) (indexSummary, error) {
		t.Helper()
		var idx index.Index
		idx, err := index.OpenEmbedded(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer idx.Close()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		if interrupt {
			idx = interruptAfterAdd{idx, cancel}
		}
		o.demoItems = n
		return fillDemo(ctx, io.Discard, quiet, o, idx, filepath.Join(dir, "images"))
	}
	// Every picture of the tiny bundle gets a garment at --min-score 1e-9 (as in TestIndexSearch).
	n := demoBatch + 2
	want := make([]string, n)
	for i := range want {
		want[i] = demoID(i)
	}
	if _, err := fill(n-1, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fill: %v, want context.Canceled", err)
	}
	if got := indexIDs(t, dbPath); !slices.Equal(got, want[:demoBatch]) {
		t.Fatalf("interrupted fill left %q, want the first batch", got)
	}

	// serve resumes the fill to n items and serves their pictures.
	o.demoItems = n
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, o, newAnalyzer) }()
	url := "http://" + ln.Addr().String()
	waitReady(t, url, done, time.Minute)
	if ids := servedDemoIDs(t, ctx, url, n+1); !slices.Equal(ids, want) {
		t.Errorf("serve has items %q, want %q", ids, want)
	}
	for _, id := range want {
		resp, err := http.Get(url + "/v1/items/" + id + "/image")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("picture of %s: status %d, type %q", id, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if got := indexIDs(t, dbPath); !slices.Equal(got, want) {
		t.Errorf("index on disk holds %q, want %q", got, want)
	}

	// The next start finds every demo item and adds nothing.
	if sum, err := fill(n, false); err != nil || sum.Added != 0 || !slices.Equal(indexIDs(t, dbPath), want) {
		t.Errorf("second start added %d items: %v", sum.Added, err)
	}

	// Items embedded by another network, or by a version of atelier that did not record it, are
	// embedded again by this one.
	modelID, err := embeddingModel(bundle)
	if err != nil {
		t.Fatal(err)
	}
	stale := map[string]map[string]string{want[0]: {index.MetaEmbeddingModel: "another network"}, want[1]: nil}
	setMeta(t, dbPath, stale)
	if sum, err := fill(n, false); err != nil || sum.Added != len(stale) {
		t.Errorf("start after a model change added %d items, want %d: %v", sum.Added, len(stale), err)
	}
	idx, err := index.OpenEmbedded(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	for _, id := range want {
		if it, err := idx.Get(t.Context(), id); err != nil || it.Meta[index.MetaEmbeddingModel] != modelID {
			t.Errorf("%s: embedded by %q, want %q (%v)", id, it.Meta[index.MetaEmbeddingModel], modelID, err)
		}
	}
}

// setMeta replaces the metadata of items of the embedded index at dbPath.
func setMeta(t *testing.T, dbPath string, meta map[string]map[string]string) {
	t.Helper()
	idx, err := index.OpenEmbedded(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	for id, m := range meta {
		it, err := idx.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		it.Meta = m
		if err := idx.Add(t.Context(), []index.Item{it}); err != nil {
			t.Fatal(err)
		}
	}
}

// servedDemoIDs lists which of the first n demo items the server at url has.
func servedDemoIDs(t *testing.T, ctx context.Context, url string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := demoID(i)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/items/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestDemoCatalogLeftOut checks that no demo item goes into an index with --demo-items 0, into
// one that holds a shop's items, or into an index given with --index.
func TestDemoCatalogLeftOut(t *testing.T) {
	stub := func(context.Context, serveOptions) (server.Analyzer, error) { return stubAnalyzer{}, nil }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name      string
		demoItems int
		explicit  bool     // pass the default path as --index
		before    []string // items in the index before the start
	}{
		{name: "demo-items 0", demoItems: 0},
		{name: "shop catalog", demoItems: 4, before: []string{"shirt-1"}},
		{name: "shop catalog with a demo item", demoItems: 4, before: []string{"demo-0001", "shirt-1"}},
		{name: "--index", demoItems: 4, explicit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dbPath := filepath.Join(dir, "catalog.db")
			idx, err := index.OpenEmbedded(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range tt.before {
				if err := idx.Add(t.Context(), []index.Item{{ID: id, Embedding: []float32{1, 0, 0}}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := idx.Close(); err != nil {
				t.Fatal(err)
			}
			o := testServeOptions(dir)
			// A model that does not exist: loading it would fail the test.
			o.model, o.demoItems = filepath.Join(dir, "no-bundle"), tt.demoItems
			if tt.explicit {
				o.index = dbPath
			}
			b, err := load(t.Context(), o, stub, quiet, filepath.Join(dir, "images"))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.index.Close(); err != nil {
				t.Fatal(err)
			}
			if got := indexIDs(t, dbPath); !slices.Equal(got, tt.before) {
				t.Errorf("index holds %q, want %q", got, tt.before)
			}
		})
	}
}

// BenchmarkDemoFill renders and indexes a default demo catalog (defaultDemoItems items) with a
// tiny bundle into a fresh data dir per iteration; run it with -benchtime=1x.
func BenchmarkDemoFill(b *testing.B) {
	bundle, _ := writeRetrievalBundle(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	indexing := 0.0
	for b.Loop() {
		dir := b.TempDir()
		o := testServeOptions(dir)
		o.model, o.minScore, o.demoItems = bundle, 1e-9, defaultDemoItems
		idx, err := index.OpenEmbedded(filepath.Join(dir, "catalog.db"))
		if err != nil {
			b.Fatal(err)
		}
		sum, err := fillDemo(b.Context(), io.Discard, quiet, o, idx, filepath.Join(dir, "images"))
		if cerr := idx.Close(); err == nil {
			err = cerr
		}
		if err != nil || sum.Added+len(sum.Bad) != defaultDemoItems {
			b.Fatalf("added %d, %d without a garment: %v", sum.Added, len(sum.Bad), err)
		}
		indexing += sum.Seconds
	}
	b.ReportMetric(indexing/float64(b.N), "index-s/op") // the rest of ns/op is rendering
}
