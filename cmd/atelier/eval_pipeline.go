package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/index"
)

// taskPipeline is the eval task of the whole analyze pipeline; it trains nothing of its own.
const taskPipeline = "pipeline"

// pipelineFormats are the formats that label shop and street photos with boxes and item ids.
var pipelineFormats = []string{dataset.FormatDeepFashion2, dataset.FormatC2S}

// pipelineSearchK is the number of catalog hits kept per garment (item top-5).
const pipelineSearchK = 5

// pipelineOptions are the settings of "atelier eval pipeline".
type pipelineOptions struct {
	model, format, data, split string
	images                     int
	minScore                   float64
	asJSON                     bool
	poolAtAligned              bool // analyze.Options.PoolAtAligned, for catalog and street photos
}

// evalPipeline is "atelier eval pipeline": it indexes the split's shop photos as `atelier index`
// does, analyses its first street photos as `atelier analyze` does, searches the catalog with
// each garment as `atelier search` does, and scores garments, categories and item ids against
// the labels (eval.Pipeline).
func evalPipeline(cmd *cobra.Command, o pipelineOptions) error {
	if !slices.Contains(pipelineFormats, o.format) {
		return badInputf("the pipeline reads shop and street photos with item ids: --format %v, not %q", pipelineFormats, o.format)
	}
	if o.images <= 0 {
		return badInputf("--images must be positive, not %d", o.images)
	}
	d, err := loadVisionData(taskPipeline, o.format, o.data)
	if err != nil {
		return err
	}
	split := dataset.Split(o.split)
	if split == "" {
		split = dataset.Test
		if !slices.ContainsFunc(d.Samples, func(s dataset.Sample) bool { return s.Split == dataset.Test }) {
			split = dataset.Val // DeepFashion2 holds its test split out
		}
	}
	b, err := loadBundle(o.model)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", modelName(o.model), err))
	}
	catalog, queries, labels := pipelineData(d, split, o.images, b.Vocabulary.CategoryNames())
	if len(catalog) == 0 || len(queries) == 0 {
		return badInputf("%s split %s has %d shop garments with an item id and %d street photos: need both", o.data, split, len(catalog), len(queries))
	}

	dir, err := os.MkdirTemp("", "atelier-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	idx, err := index.OpenEmbedded(filepath.Join(dir, "catalog.db"))
	if err != nil {
		return err
	}
	defer idx.Close()
	ctx := cmd.Context()
	errOut := cmd.ErrOrStderr()
	sum := indexSummary{Bad: []string{}}
	catalogOpts := indexOptions{model: o.model, batch: 64, minScore: analyze.CatalogMinScore, poolAtAligned: o.poolAtAligned}
	if err := indexEntries(ctx, errOut, catalogOpts, idx, catalog, &sum); err != nil {
		return err
	}
	res := eval.PipelineReport{CatalogItems: sum.Added, CatalogSeconds: sum.Seconds}

	p, err := openPipeline(o.model, analyze.Options{MinScore: float32(o.minScore), PoolAtAligned: o.poolAtAligned})
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", modelName(o.model), err))
	}
	defer p.Close()
	images, seconds, err := analyzeQueries(ctx, errOut, p, idx, queries)
	if err != nil {
		return err
	}
	for i := range images {
		images[i].Labels = labels[i]
	}
	res.PipelineResult = eval.Pipeline(images)
	if res.Categorized == 0 {
		fmt.Fprintf(errOut, "atelier: eval: the %s labels name no category of the model: garment types are scored instead\n", o.format)
	}
	res.Seconds, res.ImagesPerSec = seconds, float64(len(queries))/seconds

	out := cmd.OutOrStdout()
	if o.asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	f := func(v eval.Value) string {
		if math.IsNaN(float64(v)) {
			return "n/a"
		}
		return fmt.Sprintf("%.4f", float64(v))
	}
	fmt.Fprintf(out, "%d street photos, %d garments (%d of catalog products); catalog of %d garments indexed in %.1f s\n",
		res.Images, res.Garments, res.Items, res.CatalogItems, res.CatalogSeconds)
	fmt.Fprintf(out, "detected %s  category %s (of detected %s)  item top-1 %s  top-5 %s\n",
		f(res.Detected), f(res.CategoryAccuracy), f(res.CategoryAccuracyMatched), f(res.ItemTop1), f(res.ItemTop5))
	fmt.Fprintf(out, "end to end %s; analysed in %.1f s (%.2f images/s)\n", f(res.EndToEnd), res.Seconds, res.ImagesPerSec)
	return nil
}

// pipelineData lists the catalog (one entry per garment with an item id in the split's shop
// photos), the first n street photos of the split in file order, and their labels (the garments
// with a box); a label's item is kept only when the catalog holds that item, and its category
// only when it is one of the model's categories.
func pipelineData(d *dataset.Dataset, split dataset.Split, n int, modelCategories []string) (catalog []catalogEntry, queries []string, labels [][]eval.PipelineLabel) {
	category := func(id int) string {
		c, _ := d.Vocab.Category(id)
		return c.Name
	}
	inCatalog := map[string]bool{}
	for _, s := range d.Samples {
		if s.Split != split || s.Source != dataset.SourceShop {
			continue
		}
		for _, g := range s.Garments {
			if g.ItemID == "" {
				continue
			}
			inCatalog[g.ItemID] = true
			path := filepath.Join(d.Root, s.Image)
			e := catalogEntry{path: path, item: index.Item{ID: s.Image + "#" + g.ItemID, Name: g.ItemID,
				Category: category(g.Category), Image: path, Meta: map[string]string{"item_id": g.ItemID}}}
			if g.Type != fashion.TypeUnknown {
				e.item.Type = g.Type.String() // else indexEntries takes the detected garment's
			}
			catalog = append(catalog, e)
		}
	}
	for _, s := range d.Samples {
		if len(queries) == n {
			break
		}
		if s.Split != split || s.Source != dataset.SourceConsumer {
			continue
		}
		var ls []eval.PipelineLabel
		for _, g := range s.Garments {
			if !g.HasBox {
				continue // nothing to match a detection to
			}
			l := eval.PipelineLabel{Box: g.Box}
			if c := category(g.Category); slices.Contains(modelCategories, c) {
				l.Category = c
			}
			if g.Type != fashion.TypeUnknown {
				l.Type = g.Type.String()
			}
			if inCatalog[g.ItemID] {
				l.Item = g.ItemID
			}
			ls = append(ls, l)
		}
		queries = append(queries, filepath.Join(d.Root, s.Image))
		labels = append(labels, ls)
	}
	return catalog, queries, labels
}

// analyzeQueries analyses the photos and searches the catalog for each garment's product (of the
// garment's type, as `atelier search` does); it returns the garments found and the wall-clock
// seconds this took.
func analyzeQueries(ctx context.Context, errOut io.Writer, p *analyze.Pipeline, idx index.Index, paths []string) ([]eval.PipelineImage, float64, error) {
	bar := newBar(errOut, len(paths), "analysing", "images")
	images := make([]eval.PipelineImage, len(paths))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	err := p.AnalyzeFiles(ctx, paths, false, func(out analyze.Output) {
		_ = bar.Add(1)
		var ie *analyze.InputError
		switch {
		case errors.As(out.Err, &ie):
			cancel(badInput(out.Err))
			return
		case out.Err != nil:
			cancel(out.Err)
			return
		}
		gs := make([]eval.PipelineGarment, len(out.Result.Garments))
		for i, g := range out.Result.Garments {
			gs[i] = eval.PipelineGarment{Box: g.Box, Score: g.Score, Category: g.Category.Name, Type: g.Type}
			if len(g.Embedding) == 0 {
				continue
			}
			hits, err := idx.Search(ctx, g.Embedding, pipelineSearchK, index.Filter{Type: g.Type})
			if err != nil {
				cancel(fmt.Errorf("searching the catalog for a garment of %s: %w", out.Result.Image, err))
				return
			}
			for _, h := range hits {
				gs[i].Items = append(gs[i].Items, h.Meta["item_id"])
			}
		}
		images[out.Index].Garments = gs
	})
	seconds := time.Since(start).Seconds()
	_ = bar.Finish()
	if cause := context.Cause(ctx); cause != nil {
		return nil, 0, cause
	}
	return images, seconds, err
}
