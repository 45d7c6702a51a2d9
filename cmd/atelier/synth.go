package main

import (
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/dataset/synth"
)

func init() {
	subcommands = append(subcommands, newSynthCmd)
}

func newSynthCmd() *cobra.Command {
	var (
		out, preview, only string
		images             int
		seed               uint64
	)
	p := synth.Plan(100)
	cmd := &cobra.Command{
		Use:   "synth --out DIR [--images N] [--seed S] [--preview PNG]",
		Short: "Render a synthetic DeepFashion dataset in every benchmark format",
		Long: fmt.Sprintf(`Renders garments procedurally from their landmarks and writes, under DIR, one folder per
benchmark layout with exact labels (boxes, landmarks with visibility, category, attributes,
item identity, shop or consumer source):

  attr/    Category and Attribute Prediction (%d%% of N): 1-3 photos per item, half shop, half
           street, about 300 px; train/val/test 70/15/15 by item.
  inshop/  In-shop Clothes Retrieval (%d%%): 3-5 shop photos per item (256 px); half the items
           train, the others split into query and gallery photos.
  c2s/     Consumer-to-shop (%d%%): one shop and 1-3 consumer photos per item; train/val/test
           60/20/20 by item.
  scenes/  DeepFashion2 (%d%%): pairs of a shop photo and 1-3 street photos with 1-3 garments
           each; train/validation 80/20 by pair.
  fld/     Fashion Landmark Detection (%d%%): variation types 1-5; train/val/test 70/15/15.

The output is byte-identical for the same --seed and --images. --preview also writes a contact
sheet (a grid of photos with boxes and landmarks drawn: green visible, orange occluded); with no
--out only the contact sheet is made. --only renders a single folder with all N images (more
training data for one task).`, p[0], p[1], p[2], p[3], p[4]),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" && preview == "" {
				return badInputf("synth: give --out DIR or --preview PNG")
			}
			if only != "" && synth.FolderIndex(only) < 0 {
				return badInputf("synth: --only %q: want attr, inshop, c2s, scenes or fld", only)
			}
			if images < 10 {
				return badInputf("synth: --images %d is too few (at least 10)", images)
			}
			g := synth.New(seed)
			if preview != "" {
				if err := writePreview(g, preview); err != nil {
					return err
				}
			}
			if out == "" {
				return nil
			}
			start := time.Now()
			n, err := writeSynth(g, out, synth.Options{Images: images, Only: only}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d images to %s in %.1fs\n", n, out, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output directory")
	cmd.Flags().IntVar(&images, "images", 500, "number of images in all, divided among the folders")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&only, "only", "", "render only this folder (attr, inshop, c2s, scenes or fld), with all N images")
	cmd.Flags().StringVar(&preview, "preview", "", "also write a contact sheet of samples to this PNG file")
	return cmd
}

// writeSynth renders a dataset with a progress bar on stderr.
func writeSynth(g *synth.Generator, out string, o synth.Options, progress io.Writer) (int, error) {
	bar := newBar(progress, o.Images, "rendering", "")
	o.Progress = func() { _ = bar.Add(1) }
	n, err := g.Write(out, o)
	_ = bar.Finish()
	if err != nil {
		return n, fmt.Errorf("synth: %w", err)
	}
	return n, nil
}

// writePreview writes a contact sheet of 32 photos.
func writePreview(g *synth.Generator, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = png.Encode(f, synth.ContactSheet(g.Preview(32), 8, 160))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing preview %s: %w", path, err)
	}
	return nil
}
