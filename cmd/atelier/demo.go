package main

import (
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/dataset/synth"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/index"
)

// Demo catalog: synthetic shop items that `atelier serve` renders and indexes at first start, so
// that a fresh machine has something to search.
const (
	demoSeed         = 2026 // fixed, so that every machine gets the same demo catalog
	demoPrefix       = "demo-"
	demoDir          = "demo" // folder of the pictures under the server's image dir
	demoW, demoH     = 256, 320
	demoBatch        = 32
	demoJPEGQuality  = 90
	defaultDemoItems = 200
)

// demoID is the id of demo item n (from 0): demo-0001, demo-0002...
func demoID(n int) string { return fmt.Sprintf("%s%04d", demoPrefix, n+1) }

// demoItem describes synthetic item n of g, without its embedding: its name says its colour,
// pattern, fabric and category; its picture is a path relative to the server's image dir.
func demoItem(g *synth.Generator, n int) (*synth.Item, index.Item) {
	it := g.Item(n)
	id := demoID(n)
	var words []string
	attrs, labels := synth.Attributes(), it.Labels()
	for i, a := range attrs {
		if a.Type == fashion.Style && labels[i] > 0 { // the first style attributes are the colours
			words = append(words, a.Name)
			break
		}
	}
	if it.Pattern != synth.Solid {
		words = append(words, it.Pattern.String())
	}
	words = append(words, it.Fabric.String(), strings.ToLower(it.Kind.Category.Name))
	name := strings.Join(words, " ")
	return it, index.Item{
		ID:       id,
		Name:     strings.ToUpper(name[:1]) + name[1:],
		Category: it.Kind.Category.Name,
		Type:     it.Kind.Type.String(),
		Image:    filepath.Join(demoDir, id+".jpg"),
		Meta:     map[string]string{"source": "demo"},
	}
}

// fillDemo adds the first n items of the demo catalog that idx lacks, or holds with another
// network's embedding (a new model): it renders their shop photos under imageDir, then embeds and
// adds them like `atelier index`. It does nothing when idx holds any item that is not a demo item,
// so that a real catalog is left alone; an interrupted fill is resumed by the next call, since
// every acknowledged batch is durable and present items are skipped. Progress goes to errOut.
func fillDemo(ctx context.Context, errOut io.Writer, logger *slog.Logger, o serveOptions, idx index.Index, imageDir string) (indexSummary, error) {
	sum := indexSummary{Catalog: "demo", Images: o.demoItems, Bad: []string{}}
	total, err := idx.Len(ctx)
	if err != nil {
		return sum, err
	}
	g := synth.New(demoSeed)
	embeddedBy := make([]string, o.demoItems) // "" for an item idx lacks
	present := 0
	for i := range o.demoItems {
		it, err := idx.Get(ctx, demoID(i))
		switch {
		case err == nil:
			present++
			embeddedBy[i] = it.Meta[index.MetaEmbeddingModel]
		case !errors.Is(err, index.ErrNotFound):
			return sum, fmt.Errorf("looking up %s: %w", demoID(i), err)
		}
	}
	if total > present {
		logger.Info("the catalog is not empty: no demo items added", "items", total)
		return sum, nil
	}
	// Only now the model, which a server of a shop's catalog need not load here.
	modelID, err := embeddingModel(o.model)
	if err != nil {
		return sum, err
	}
	var missing []int // or embedded by another network
	for i, id := range embeddedBy {
		if id != modelID {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return sum, nil
	}
	logger.Info("demo catalog: rendering synthetic shop items", "items", len(missing), "dir", filepath.Join(imageDir, demoDir))
	entries := make([]catalogEntry, len(missing))
	for k, i := range missing {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		it, item := demoItem(g, i)
		path := filepath.Join(imageDir, item.Image)
		if err := writeDemoPicture(g, it, path); err != nil {
			return sum, err
		}
		entries[k] = catalogEntry{path: path, item: item}
	}
	logger.Info("demo catalog: indexing", "items", len(entries))
	err = indexEntries(ctx, errOut, indexOptions{model: o.model, batch: demoBatch, workers: o.workers, minScore: analyze.CatalogMinScore}, idx, entries, &sum)
	if err != nil {
		return sum, fmt.Errorf("indexing the demo catalog: %w", err)
	}
	logger.Info("demo catalog: done", "added", sum.Added, "no_garment", len(sum.Bad), "seconds", sum.Seconds)
	return sum, nil
}

// writeDemoPicture renders a front shop view of it into the JPEG file path, unless the file
// exists (pictures are deterministic). It writes through a temporary file so that an interrupted
// write leaves no truncated picture.
func writeDemoPicture(g *synth.Generator, it *synth.Item, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the demo picture folder: %w", err)
	}
	r := g.ShopView(it, synth.PoseFront, 0, demoW, demoH)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing a demo picture: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	err = jpeg.Encode(tmp, r.Image, &jpeg.Options{Quality: demoJPEGQuality})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
