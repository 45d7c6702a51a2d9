package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/index"
)

func init() {
	subcommands = append(subcommands, newSearchCmd)
}

// searchOptions are the flags of `atelier search`.
type searchOptions struct {
	model, index, dataDir string
	k                     int
	minScore              float64
	asJSON                bool
}

// searchResult is what `atelier search --json` prints: the photo and, for each garment found in
// it, the most similar catalog items of its type, best first.
type searchResult struct {
	Image    string          `json:"image"`
	Width    int             `json:"width"`
	Height   int             `json:"height"`
	Garments []garmentResult `json:"garments"`
}

// garmentResult is one garment of the photo and its matches.
type garmentResult struct {
	Box      [4]float32  `json:"box"`
	Type     string      `json:"type"`
	Score    float32     `json:"score"`
	Category string      `json:"category"`
	Results  []index.Hit `json:"results"`
}

func newSearchCmd() *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search [--model BUNDLE_DIR] [--index ...] IMAGE [--k 10] [--json]",
		Short: "Find the catalog items most similar to the garments in a photo",
		Long: `Analyses IMAGE and, for each garment found in it, searches the catalog index for the k items
of the same garment type whose identity embeddings are the most similar (cosine score).

By default it prints a table per garment (rank, id, name, category, score); --json prints one
JSON document: {"image", "width", "height", "garments": [{"box", "type", "score", "category",
"results": [{"id", "name", "category", "type", "image", "meta", "score"}]}]}.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSearch(cmd, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model bundle directory (default: the bundle built into the binary)")
	f.StringVar(&o.index, "index", "", "catalog index: a file path or weaviate://HOST:PORT[/Class] (default: DATA_DIR/catalog.db)")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "directory of the default embedded index")
	f.IntVar(&o.k, "k", 10, "items returned per garment")
	f.Float64Var(&o.minScore, "min-score", 0.3, "lowest detection score of a garment")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON document")
	return cmd
}

func runSearch(cmd *cobra.Command, o searchOptions, image string) error {
	if o.k <= 0 {
		return badInputf("--k must be positive, not %d", o.k)
	}
	ctx := cmd.Context()
	idx, _, err := openCatalog(ctx, o.index, o.dataDir)
	if err != nil {
		return err
	}
	defer idx.Close()
	p, err := openPipeline(o.model, analyze.Options{Workers: 1, MinScore: float32(o.minScore)})
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", modelName(o.model), err))
	}
	defer p.Close()
	var out analyze.Output
	if err := p.AnalyzeFiles(ctx, []string{image}, false, func(o analyze.Output) { out = o }); err != nil {
		return err
	}
	res, err := out.Result, out.Err
	var ie *analyze.InputError
	switch {
	case errors.As(err, &ie):
		return badInput(err)
	case err != nil:
		return err
	}
	sr := searchResult{Image: res.Image, Width: res.Width, Height: res.Height, Garments: []garmentResult{}}
	foreign := 0 // matches embedded by another network
	for _, g := range res.Garments {
		if len(g.Embedding) == 0 {
			return badInputf("%s has no FashionNet: it gives no embeddings to search with", modelName(o.model))
		}
		hits, err := idx.Search(ctx, g.Embedding, o.k, index.Filter{Type: g.Type})
		if err != nil {
			return fmt.Errorf("searching the index for the %s garment: %w", g.Type, err)
		}
		if hits == nil {
			hits = []index.Hit{}
		}
		for _, h := range hits {
			if h.Meta[index.MetaEmbeddingModel] != p.EmbeddingModel() {
				foreign++
			}
		}
		sr.Garments = append(sr.Garments, garmentResult{Box: g.Box, Type: g.Type, Score: g.Score, Category: g.Category.Name, Results: hits})
	}
	if foreign > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "atelier: search: %d of the matches were embedded by another network than %s's: their scores mean nothing until `atelier index` embeds them again\n",
			foreign, modelName(o.model))
	}
	if o.asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(sr)
	}
	printSearch(cmd.OutOrStdout(), sr)
	return nil
}

// printSearch writes the matches of each garment as a table.
func printSearch(w io.Writer, sr searchResult) {
	fmt.Fprintf(w, "%s (%dx%d): %s\n", sr.Image, sr.Width, sr.Height, garments(len(sr.Garments)))
	for i, g := range sr.Garments {
		fmt.Fprintf(w, "\ngarment %d: %s %.2f, %s, box %.0f,%.0f,%.0f,%.0f\n", i+1, g.Type, g.Score, g.Category,
			g.Box[0], g.Box[1], g.Box[2], g.Box[3])
		if len(g.Results) == 0 {
			fmt.Fprintln(w, "  no catalog item of this type")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  rank\tid\tname\tcategory\tscore")
		for r, h := range g.Results {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%.3f\n", r+1, h.ID, h.Name, h.Category, h.Score)
		}
		_ = tw.Flush()
	}
}
