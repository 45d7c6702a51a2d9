package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/model"
)

// formatImages is the --format of a plain folder of product pictures.
const formatImages = "images"

func init() {
	subcommands = append(subcommands, newIndexCmd)
}

// indexOptions are the flags of `atelier index`.
type indexOptions struct {
	catalog, format, model, index, dataDir, shard string
	batch, workers                                int
	minScore                                      float64
	asJSON                                        bool
	poolAtAligned                                 bool // analyze.Options.PoolAtAligned
}

// indexSummary is what `atelier index --json` prints.
type indexSummary struct {
	Catalog string   `json:"catalog"`
	Index   string   `json:"index"`
	Shard   string   `json:"shard"`
	Images  int      `json:"images"`  // images of this shard
	Present int      `json:"present"` // already in the index, embedded by this network: skipped
	Added   int      `json:"added"`
	Bad     []string `json:"bad"`            // unreadable images and images without a garment
	Items   int      `json:"items"`          // items in the index at the end
	Seconds float64  `json:"seconds"`        // time spent analysing and adding
	PerSec  float64  `json:"analysed_per_s"` // images analysed (added or bad) per second
}

func newIndexCmd() *cobra.Command {
	var o indexOptions
	cmd := &cobra.Command{
		Use:   "index --catalog DIR --format deepfashion-inshop|images [--model BUNDLE_DIR] [--index PATH | --index weaviate://HOST:PORT] [--shard i/n]",
		Short: "Embed a shop catalog into a search index",
		Long: `Analyses every picture of a catalog, takes its most confident garment (of the garment type
the catalog gives, when it gives one) and stores that garment's identity embedding in the index
with the item's name, category, type and picture path.

--format deepfashion-inshop indexes every image of the In-shop benchmark's list (all splits: the
shop catalog is every picture of every listed item). The item id is the image path, so that the
views of one product stay distinct items; meta.item_id holds the product id, and the category and
type come from the dataset. --format images indexes every JPEG, PNG and WebP file under --catalog,
with the path relative to it as id.

Indexing resumes: pictures whose id is already in the index, embedded by the same network, are
skipped; items that another network embedded (meta.embedding_model records which) are embedded
again. --shard i/n takes the pictures whose position in id order is i modulo n, so that n machines
can fill one index together.
Pictures that cannot be read, or in which no garment is found, are reported on stderr (one line
naming the file) and skipped; the exit status is then 2, once everything else is indexed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIndex(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.catalog, "catalog", "", "catalog folder")
	f.StringVar(&o.format, "format", "", "catalog format: deepfashion-inshop or images")
	f.StringVar(&o.model, "model", "", "model bundle directory (default: the bundle built into the binary)")
	f.StringVar(&o.index, "index", "", "catalog index: a file path or weaviate://HOST:PORT[/Class] (default: DATA_DIR/catalog.db)")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory of the default embedded index")
	f.StringVar(&o.shard, "shard", "0/1", "index only shard i of n: the pictures at positions ≡ i (mod n) in id order")
	f.IntVar(&o.batch, "batch", 64, "items written to the index at once")
	f.IntVar(&o.workers, "workers", 0, "images analysed at once (default: the number of CPUs)")
	f.Float64Var(&o.minScore, "min-score", analyze.CatalogMinScore, "lowest detection score of a garment")
	f.BoolVar(&o.asJSON, "json", false, "print a JSON summary on stdout")
	return cmd
}

// catalogEntry is one picture to index, with what the catalog says about it.
type catalogEntry struct {
	path string     // file to read
	item index.Item // without its embedding
}

func runIndex(cmd *cobra.Command, o indexOptions) error {
	shard, shards, err := parseShard(o.shard)
	switch {
	case err != nil:
		return badInput(err)
	case o.catalog == "":
		return badInputf("--catalog is required")
	case o.batch <= 0:
		return badInputf("--batch must be positive, not %d", o.batch)
	case o.workers < 0:
		return badInputf("--workers cannot be negative")
	}
	if err := checkModel(o.model); err != nil {
		return err
	}
	entries, err := listCatalog(o.format, o.catalog)
	if err != nil {
		return badInput(err)
	}
	var mine []catalogEntry
	for i, e := range entries {
		if i%shards == shard {
			mine = append(mine, e)
		}
	}
	ctx := cmd.Context()
	idx, spec, err := openCatalog(ctx, o.index, o.dataDir)
	if err != nil {
		return err
	}
	sum := indexSummary{Catalog: o.catalog, Index: spec, Shard: o.shard, Images: len(mine), Bad: []string{}}
	err = indexEntries(ctx, cmd.ErrOrStderr(), o, idx, mine, &sum)
	if n, lerr := idx.Len(ctx); lerr == nil {
		sum.Items = n
	} else {
		err = errors.Join(err, lerr)
	}
	if cerr := idx.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the index: %w", cerr))
	}
	if err != nil {
		return err
	}
	if o.asJSON {
		if err := json.NewEncoder(cmd.OutOrStdout()).Encode(sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "indexed %d of %d images (%d already there, %d bad) in %.1f s (%.2f images analysed/s); %s holds %d items\n",
			sum.Added, sum.Images, sum.Present, len(sum.Bad), sum.Seconds, sum.PerSec, spec, sum.Items)
	}
	if len(sum.Bad) > 0 {
		return badInputf("%d of %d images were not indexed", len(sum.Bad), sum.Images)
	}
	return nil
}

// embeddingModel is the ID of the network of the bundle in dir that computes embeddings.
func embeddingModel(dir string) (string, error) {
	b, err := loadBundle(dir)
	if err != nil {
		return "", badInput(fmt.Errorf("%s: %w", modelName(dir), err))
	}
	n, err := b.Network(model.TaskFashionNet)
	if err != nil {
		return "", badInputf("%s has no FashionNet: it gives no embeddings to index", modelName(dir))
	}
	return n.ID(), nil
}

// isCurrent says whether idx holds the item id with an embedding of the network modelID.
func isCurrent(ctx context.Context, idx index.Index, id, modelID string) (bool, error) {
	it, err := idx.Get(ctx, id)
	switch {
	case err == nil:
		return it.Meta[index.MetaEmbeddingModel] == modelID, nil
	case errors.Is(err, index.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("looking up %s: %w", id, err)
	}
}

// foreignItems counts, among the first limit items of idx in its listing order, those that the
// network modelID did not embed (or that do not say which network did).
func foreignItems(ctx context.Context, idx index.Index, modelID string, limit int) (checked, foreign int, err error) {
	const page = 1000
	for checked < limit {
		n := min(page, limit-checked)
		items, err := idx.List(ctx, index.Filter{}, checked, n)
		if err != nil {
			return checked, foreign, fmt.Errorf("listing items from %d: %w", checked, err)
		}
		for _, it := range items {
			if it.Meta[index.MetaEmbeddingModel] != modelID {
				foreign++
			}
		}
		checked += len(items)
		if len(items) < n {
			break
		}
	}
	return checked, foreign, nil
}

// indexEntries analyses the entries that idx lacks, or holds with another network's embedding,
// with the model o.model and adds them in batches of o.batch, filling sum; progress and skipped
// pictures go to errOut. It serves both `atelier index` and the demo catalog of `atelier serve`.
func indexEntries(ctx context.Context, errOut io.Writer, o indexOptions, idx index.Index, entries []catalogEntry, sum *indexSummary) error {
	modelID, err := embeddingModel(o.model)
	if err != nil {
		return err
	}
	var todo []catalogEntry
	for _, e := range entries {
		current, err := isCurrent(ctx, idx, e.item.ID, modelID)
		if err != nil {
			return err
		}
		if current {
			sum.Present++
		} else {
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	p, err := openPipeline(o.model, analyze.Options{Workers: o.workers, MinScore: float32(o.minScore), PoolAtAligned: o.poolAtAligned})
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", modelName(o.model), err))
	}
	defer p.Close()

	bar := newBar(errOut, len(todo), "indexing", "images")
	paths := make([]string, len(todo))
	for i, e := range todo {
		paths[i] = e.path
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var batch []index.Item
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := idx.Add(ctx, batch); err != nil {
			return fmt.Errorf("adding %d items to the index: %w", len(batch), err)
		}
		sum.Added += len(batch)
		batch = batch[:0]
		return nil
	}
	skip := func(msg string) {
		_ = bar.Clear()
		fmt.Fprintln(errOut, "atelier: index:", msg)
		sum.Bad = append(sum.Bad, msg)
	}
	start := time.Now()
	err = p.AnalyzeFiles(ctx, paths, false, func(out analyze.Output) {
		_ = bar.Add(1)
		e := todo[out.Index]
		var ie *analyze.InputError
		switch {
		case errors.As(out.Err, &ie):
			skip(oneLine(out.Err))
			return
		case out.Err != nil:
			cancel(out.Err)
			return
		}
		g, ok := pickGarment(out.Result.Garments, e.item.Type)
		if !ok {
			skip(e.path + ": no garment found")
			return
		}
		it := e.item
		it.Embedding = g.Embedding
		it.Meta = maps.Clone(it.Meta)
		if it.Meta == nil {
			it.Meta = map[string]string{}
		}
		it.Meta[index.MetaEmbeddingModel] = modelID
		if it.Type == "" {
			it.Type = g.Type
		}
		if it.Category == "" {
			it.Category = g.Category.Name
		}
		if batch = append(batch, it); len(batch) >= o.batch {
			if err := flush(); err != nil {
				cancel(err)
			}
		}
	})
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if err == nil {
		err = flush()
	}
	_ = bar.Finish()
	sum.Seconds = time.Since(start).Seconds()
	sum.PerSec = float64(len(todo)) / sum.Seconds
	return err
}

// pickGarment returns the most confident garment of type typ, or of any type when typ is empty
// or no garment has it.
func pickGarment(gs []analyze.Garment, typ string) (analyze.Garment, bool) {
	best, bestOfType := -1, -1
	for i, g := range gs {
		if best < 0 || g.Score > gs[best].Score {
			best = i
		}
		if typ != "" && g.Type == typ && (bestOfType < 0 || g.Score > gs[bestOfType].Score) {
			bestOfType = i
		}
	}
	switch {
	case bestOfType >= 0:
		return gs[bestOfType], true
	case best >= 0:
		return gs[best], true
	}
	return analyze.Garment{}, false
}

// parseShard reads "i/n" with 0 <= i < n.
func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 0 <= i < n", s)
	}
	return i, n, nil
}

// listCatalog returns the pictures of a catalog sorted by id.
func listCatalog(format, dir string) ([]catalogEntry, error) {
	var entries []catalogEntry
	var err error
	switch format {
	case dataset.FormatInShop:
		entries, err = listInShop(dir)
	case formatImages:
		entries, err = listImages(dir)
	default:
		return nil, fmt.Errorf("--format %q: want %s or %s", format, dataset.FormatInShop, formatImages)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b catalogEntry) int { return strings.Compare(a.item.ID, b.item.ID) })
	return entries, nil
}

// listInShop lists every image of an In-shop folder with the item id, category and type of its
// garment. Missing image files are left for the indexing to report, one by one.
func listInShop(dir string) ([]catalogEntry, error) {
	type pending struct {
		entry    catalogEntry
		category int
	}
	var list []pending
	vocab, err := dataset.Walk(dataset.FormatInShop, dir, dataset.Options{SkipImages: true}, func(s *dataset.Sample) error {
		e := pending{entry: catalogEntry{path: filepath.Join(dir, s.Image),
			item: index.Item{ID: s.Image, Image: filepath.Join(dir, s.Image), Meta: map[string]string{"split": string(s.Split)}}}}
		if len(s.Garments) > 0 {
			g := s.Garments[0]
			e.category = g.Category
			if g.Type != fashion.TypeUnknown {
				e.entry.item.Type = g.Type.String()
			}
			if g.ItemID != "" {
				e.entry.item.Name = g.ItemID
				e.entry.item.Meta["item_id"] = g.ItemID
			}
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the In-shop catalog: %w", err)
	}
	entries := make([]catalogEntry, len(list))
	for i, p := range list {
		if c, ok := vocab.Category(p.category); ok {
			p.entry.item.Category = c.Name
			if p.entry.item.Type == "" && c.Type != fashion.TypeUnknown {
				p.entry.item.Type = c.Type.String()
			}
		}
		entries[i] = p.entry
	}
	return entries, nil
}

// listImages lists every JPEG, PNG and WebP file under dir, named by its relative path.
func listImages(dir string) ([]catalogEntry, error) {
	var entries []catalogEntry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".jpg", ".jpeg", ".png", ".webp":
		default:
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		id := filepath.ToSlash(rel)
		name := strings.TrimSuffix(filepath.Base(rel), filepath.Ext(rel))
		entries = append(entries, catalogEntry{path: path, item: index.Item{ID: id, Name: name, Image: path}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the catalog: %w", err)
	}
	return entries, nil
}
