package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/dataset/synth"
	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/train"
)

// writeRetrievalBundle renders a tiny synthetic dataset and makes a bundle of a FashionNet
// trained for two steps on its In-shop folder plus untrained tiny detector and aligner networks:
// enough for embeddings, not for meaningful ones. It returns the bundle and the In-shop folder.
func writeRetrievalBundle(t testing.TB) (bundle, inshop string) {
	t.Helper()
	t.Setenv("GOMLX_BACKEND", "go:ops_sequential") // see writeTinyBundle
	data := t.TempDir()
	if _, err := synth.New(7).Write(data, synth.Options{Images: 50}); err != nil {
		t.Fatal(err)
	}
	inshop = filepath.Join(data, "inshop")
	net := addFashionNetFlags(pflag.NewFlagSet("test", pflag.ContinueOnError))
	net.inputSize, net.widths, net.embeddingDim, net.views = 32, "8,16,16,32", 16, 2
	bundle = filepath.Join(t.TempDir(), "bundle")
	cmd := &cobra.Command{}
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetContext(t.Context())
	err := trainFashionNet(cmd, inshop, dataset.FormatInShop, bundle,
		train.Config{Steps: 2, BatchSize: 4, LearningRate: 1e-3, Seed: 1, CheckpointEvery: time.Minute}, false, false, net)
	if err != nil {
		t.Fatal(err)
	}
	addTinyDetectorAligner(t, bundle)
	return bundle, inshop
}

// indexIDs lists the ids of the embedded index at path.
func indexIDs(t *testing.T, path string) []string {
	t.Helper()
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	items, err := idx.List(context.Background(), index.Filter{}, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	sort.Strings(ids)
	return ids
}

func TestIndexSearch(t *testing.T) {
	bundle, catalog := writeRetrievalBundle(t)
	entries, err := listCatalog(dataset.FormatInShop, catalog)
	if err != nil || len(entries) < 4 {
		t.Fatalf("catalog of %d images: %v", len(entries), err)
	}
	want := make([]string, len(entries))
	for i, e := range entries {
		want[i] = e.item.ID
	}
	dir := t.TempDir()
	run := func(wantCode int, indexPath string, extra ...string) indexSummary {
		t.Helper()
		args := append([]string{"index", "--catalog", catalog, "--format", dataset.FormatInShop, "--model", bundle,
			"--index", indexPath, "--min-score", "1e-9", "--batch", "3", "--json"}, extra...)
		stdout, code := runCLI(t, args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d", extra, code, wantCode)
		}
		var sum indexSummary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("index --json printed %q: %v", stdout, err)
		}
		return sum
	}

	// A corrupt picture is named and skipped, the rest is indexed, and the exit status is 2.
	badPath := entries[1].path
	good, err := os.ReadFile(badPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPath, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full.db")
	sum := run(2, full)
	if len(sum.Bad) != 1 || !strings.Contains(sum.Bad[0], badPath) {
		t.Errorf("bad images %q, want one naming %s", sum.Bad, badPath)
	}
	if sum.Added != len(want)-1 || sum.Items != len(want)-1 {
		t.Errorf("added %d, index holds %d, want %d", sum.Added, sum.Items, len(want)-1)
	}

	// Repaired, the picture is the only one added on the next run; a third run adds nothing.
	if err := os.WriteFile(badPath, good, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, wantAdded := range []int{1, 0} {
		sum = run(0, full)
		if sum.Added != wantAdded || sum.Present != len(want)-wantAdded || sum.Items != len(want) {
			t.Errorf("resume: added %d, present %d, items %d; want %d, %d, %d", sum.Added, sum.Present, sum.Items,
				wantAdded, len(want)-wantAdded, len(want))
		}
	}
	if got := indexIDs(t, full); !slices.Equal(got, want) {
		t.Errorf("index ids %q, want %q", got, want)
	}

	// Two shards cover the catalog exactly once.
	var union []string
	for i, shard := range []string{"0/2", "1/2"} {
		path := filepath.Join(dir, shard[:1]+".db")
		if sum := run(0, path, "--shard", shard); sum.Images != (len(want)+1-i)/2 {
			t.Errorf("shard %s has %d images of %d", shard, sum.Images, len(want))
		}
		union = append(union, indexIDs(t, path)...)
	}
	sort.Strings(union)
	if !slices.Equal(union, want) {
		t.Errorf("shards hold %q, want %q", union, want)
	}

	// Search: k hits of the garment's type per garment, best first.
	stdout, code := runCLI(t, "search", "--model", bundle, "--index", full, "--min-score", "1e-9", "--k", "3", "--json", entries[0].path)
	if code != 0 {
		t.Fatalf("search: exit %d", code)
	}
	var res searchResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("search --json printed %q: %v", stdout, err)
	}
	if res.Image != entries[0].path || len(res.Garments) == 0 {
		t.Fatalf("search result %s: want garments of %s", stdout, entries[0].path)
	}
	for _, g := range res.Garments {
		if len(g.Results) != min(3, countType(t, full, g.Type)) {
			t.Errorf("%s garment: %d hits, want 3 or every item of its type", g.Type, len(g.Results))
		}
		for i, h := range g.Results {
			if h.ID == "" || h.Type != g.Type || (i > 0 && h.Score > g.Results[i-1].Score) {
				t.Errorf("hit %d %+v of the %s garment: empty id, other type or out of order", i, h, g.Type)
			}
		}
	}
	for _, field := range []string{`"id"`, `"name"`, `"category"`, `"score"`, `"results"`} {
		if !strings.Contains(stdout, field) {
			t.Errorf("search --json has no %s: %s", field, stdout)
		}
	}
	// Matches that another network embedded are counted on stderr.
	searchTable := func() (stderr string) {
		t.Helper()
		stdout, stderr, code := runCLIStderr(t, "search", "--model", bundle, "--index", full, "--min-score", "1e-9", entries[0].path)
		if code != 0 || !strings.Contains(stdout, "rank") {
			t.Errorf("search table: exit %d, printed %q", code, stdout)
		}
		return stderr
	}
	const warning = "embedded by another network"
	if stderr := searchTable(); strings.Contains(stderr, warning) {
		t.Errorf("search of an index of its own network warned: %q", stderr)
	}
	idx, err := index.Open(t.Context(), full)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range want {
		it, err := idx.Get(t.Context(), id)
		if err == nil {
			it.Meta[index.MetaEmbeddingModel] = "another network"
			err = idx.Add(t.Context(), []index.Item{it})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if stderr := searchTable(); !strings.Contains(stderr, warning) {
		t.Errorf("search of an index of another network printed %q on stderr, want a warning", stderr)
	}
}

// countType counts the items of a garment type in the embedded index at path.
func countType(t *testing.T, path, typ string) int {
	t.Helper()
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	items, err := idx.List(context.Background(), index.Filter{Type: typ}, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

func TestIndexSearchBadUsage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"index with a missing model", []string{"index", "--model", filepath.Join(dir, "nope"), "--catalog", dir, "--format", formatImages, "--index", db}},
		{"index without catalog", []string{"index", "--model", dir, "--format", formatImages, "--index", db}},
		{"index bad format", []string{"index", "--model", dir, "--catalog", dir, "--format", "deepfashion2", "--index", db}},
		{"index bad shard", []string{"index", "--model", dir, "--catalog", dir, "--format", formatImages, "--index", db, "--shard", "2/2"}},
		{"index missing catalog", []string{"index", "--model", dir, "--catalog", filepath.Join(dir, "nope"), "--format", formatImages, "--index", db}},
		{"search with a missing model", []string{"search", "--model", filepath.Join(dir, "nope"), "--index", db, filepath.Join(dir, "a.png")}},
		{"search without image", []string{"search", "--model", dir, "--index", db}},
		{"search bad k", []string{"search", "--model", dir, "--index", db, "--k", "0", filepath.Join(dir, "a.png")}},
	} {
		if _, code := runCLI(t, tc.args...); code != 2 {
			t.Errorf("%s: exit %d, want 2", tc.name, code)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i, n int
		ok   bool
	}{
		{"0/1", 0, 1, true}, {"3/4", 3, 4, true}, {"4/4", 0, 0, false}, {"-1/2", 0, 0, false},
		{"1", 0, 0, false}, {"a/2", 0, 0, false}, {"0/0", 0, 0, false},
	} {
		i, n, err := parseShard(tc.in)
		if (err == nil) != tc.ok || i != tc.i || n != tc.n {
			t.Errorf("parseShard(%q) = %d, %d, %v", tc.in, i, n, err)
		}
	}
}

func TestListImages(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b/x.PNG", "a.jpg", "b/y.webp", "notes.txt", "c.jpeg"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := listCatalog(formatImages, dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.item.ID)
	}
	if want := []string{"a.jpg", "b/x.PNG", "b/y.webp", "c.jpeg"}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
}
