package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/dataset"
)

func init() {
	subcommands = append(subcommands, newDataCmd)
}

func newDataCmd() *cobra.Command {
	data := &cobra.Command{
		Use:   "data",
		Short: "Read and check datasets",
		Long:  "Commands that read DeepFashion-family datasets and Fashion-MNIST.",
	}
	data.AddCommand(newDataCheckCmd())
	return data
}

// checkSummary is what "data check" reports; with --json it is the one document on stdout.
type checkSummary struct {
	Format        string          `json:"format"`
	Dir           string          `json:"dir"`
	Samples       int             `json:"samples"`
	Splits        map[string]int  `json:"splits"`
	Categories    int             `json:"categories"`
	Attributes    int             `json:"attributes"`
	Items         int             `json:"items"`
	Garments      int             `json:"garments"`
	Errors        []dataset.Error `json:"errors"`
	ErrorsOmitted int             `json:"errors_omitted"`
	Seconds       float64         `json:"seconds"`
}

// progressMin is the dataset size from which "data check" draws a progress bar.
const progressMin = 10000

func newDataCheckCmd() *cobra.Command {
	var format string
	var asJSON, skipImages bool
	cmd := &cobra.Command{
		Use:   "check --format F DIR [--json] [--skip-images]",
		Short: "Read a dataset, validate every list file and print a summary",
		Long: `Reads the dataset under DIR in format F (` + strings.Join(dataset.Formats, ", ") + `),
checks every row (count lines, number of fields, boxes, landmark counts per clothes type, category
and attribute ids and labels, images listed in one list but not another, image files on disk unless
--skip-images) and prints what it holds: samples, samples per split, distinct categories used, the
attribute vocabulary size, distinct item ids and garments.

Every problem is reported as FILE:LINE: MESSAGE. Exit status 0 when the dataset is valid, 2 when it
has any problem (the first one is also printed on stderr).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(dataset.Formats, format) {
				return badInputf("unknown --format %q (known: %s)", format, strings.Join(dataset.Formats, ", "))
			}
			if fi, err := os.Stat(args[0]); err != nil || !fi.IsDir() {
				return badInputf("%s is not a dataset folder", args[0])
			}
			sum, err := checkDataset(format, args[0], skipImages, os.Stderr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false) // messages say "x2 <= x1"
				if err := enc.Encode(sum); err != nil {
					return err
				}
			} else {
				printCheckSummary(out, sum)
			}
			if len(sum.Errors) > 0 {
				return badInput(&sum.Errors[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "dataset format: "+strings.Join(dataset.Formats, ", "))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object on stdout")
	cmd.Flags().BoolVar(&skipImages, "skip-images", false, "do not check that the image files exist")
	cmd.MarkFlagRequired("format")
	return cmd
}

// checkDataset walks a dataset and counts what it holds. Problems in the data end up in the
// summary; only a failure to read is returned.
func checkDataset(format, dir string, skipImages bool, progress io.Writer) (*checkSummary, error) {
	sum := &checkSummary{Format: format, Dir: dir, Splits: map[string]int{}, Errors: []dataset.Error{}}
	categories, items := map[int]bool{}, map[string]bool{}
	var bar *progressbar.ProgressBar
	opts := dataset.Options{SkipImages: skipImages, Progress: func(done, total int) {
		if bar == nil && total >= progressMin {
			bar = newBar(progress, total, "checking "+format, "")
		}
		if bar != nil {
			bar.Set(done)
		}
	}}
	start := time.Now()
	vocab, err := dataset.Walk(format, dir, opts, func(s *dataset.Sample) error {
		sum.Samples++
		split := string(s.Split)
		if split == "" {
			split = "none" // a row whose split could not be read
		}
		sum.Splits[split]++
		for i := range s.Garments {
			g := &s.Garments[i]
			sum.Garments++
			if g.Category > 0 {
				categories[g.Category] = true
			}
			if g.ItemID != "" {
				items[g.ItemID] = true
			}
		}
		return nil
	})
	if bar != nil {
		bar.Finish()
	}
	sum.Seconds = time.Since(start).Seconds()
	var list *dataset.Errors
	switch {
	case errors.As(err, &list):
		sum.Errors, sum.ErrorsOmitted = list.List, list.Omitted
	case err != nil:
		return nil, err
	}
	sum.Categories, sum.Attributes, sum.Items = len(categories), len(vocab.Attributes), len(items)
	return sum, nil
}

func printCheckSummary(w io.Writer, s *checkSummary) {
	var splits []string
	for _, name := range slices.Sorted(maps.Keys(s.Splits)) {
		splits = append(splits, fmt.Sprintf("%s %d", name, s.Splits[name]))
	}
	fmt.Fprintf(w, "%s dataset in %s (read in %.1fs)\n", s.Format, s.Dir, s.Seconds)
	fmt.Fprintf(w, "  samples     %d (%s)\n", s.Samples, strings.Join(splits, ", "))
	fmt.Fprintf(w, "  garments    %d\n", s.Garments)
	fmt.Fprintf(w, "  categories  %d used\n", s.Categories)
	fmt.Fprintf(w, "  attributes  %d\n", s.Attributes)
	fmt.Fprintf(w, "  items       %d\n", s.Items)
	if len(s.Errors) == 0 {
		fmt.Fprintln(w, "  valid: no problems found")
		return
	}
	fmt.Fprintf(w, "  problems    %d\n", len(s.Errors)+s.ErrorsOmitted)
	for _, e := range s.Errors {
		fmt.Fprintf(w, "%s\n", &e)
	}
	if s.ErrorsOmitted > 0 {
		fmt.Fprintf(w, "... and %d more\n", s.ErrorsOmitted)
	}
}
