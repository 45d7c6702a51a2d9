package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/imageio"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var bundleDir, annotateDir string
		var asJSON, noGeometry, poolAtAligned bool
		var workers int
		var minScore, attrThreshold float64
		var attrTop int
		cmd := &cobra.Command{
			Use:   "analyze [--model BUNDLE_DIR] IMAGE... [--json] [--annotate OUT_DIR]",
			Short: "Detect, align and recognise every garment in photos",
			Long: `Runs the whole pipeline on each image: detection (box, type, score), landmark alignment
(name, position, visibility) and, when the bundle has FashionNet, category with top-5,
the highest-scored attributes above the threshold (--attr-top, --attr-threshold) and the
identity embedding.

--json prints one JSON object per image, one per line (JSON Lines): {"image", "width",
"height", "garments": [...], "timings_ms": {...}}. --annotate writes OUT_DIR/NAME.png with the
boxes, landmark dots (filled when visible) and labels drawn. An image that cannot be read or
decoded (not an image, truncated, too many pixels, unreadable path) is reported on stderr in
one line naming the file; the other images are still analysed and the exit status is 2.`,
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if annotateDir != "" {
					if err := os.MkdirAll(annotateDir, 0o755); err != nil {
						return badInput(fmt.Errorf("--annotate: %w", err))
					}
				}
				p, err := openPipeline(bundleDir, analyze.Options{Workers: workers, MinScore: float32(minScore),
					AttributeThreshold: float32(attrThreshold), MaxAttributes: attrTop, NoGeometry: noGeometry,
					PoolAtAligned: poolAtAligned})
				if err != nil {
					return badInput(fmt.Errorf("%s: %w", modelName(bundleDir), err))
				}
				defer p.Close()
				return runAnalyze(cmd, p, args, asJSON, annotateDir)
			},
		}
		f := cmd.Flags()
		f.StringVar(&bundleDir, "model", "", "model bundle folder (default: the bundle built into the binary)")
		f.StringVar(&annotateDir, "annotate", "", "write annotated PNGs into this folder")
		f.BoolVar(&asJSON, "json", false, "print one JSON object per image (JSON Lines)")
		f.IntVar(&workers, "workers", 0, "images analysed at once (default: the number of CPUs)")
		f.Float64Var(&minScore, "min-score", 0.3, "lowest detection score reported")
		f.Float64Var(&attrThreshold, "attr-threshold", 0.5, "lowest attribute score reported")
		f.IntVar(&attrTop, "attr-top", 5, "most attributes reported per garment, the highest scored (-1: every one above the threshold)")
		f.BoolVar(&noGeometry, "no-geometry", false, "switch the detector's geometric consistency pass off")
		f.BoolVar(&poolAtAligned, "pool-at-aligned", false, "FashionNet pools its local features at the aligner's landmarks instead of its own")
		return cmd
	})
}

// runAnalyze analyses the images in order, printing each result as it comes, and returns the
// exit error: 1 when the pipeline failed on an image, else 2 when an input was bad.
func runAnalyze(cmd *cobra.Command, p *analyze.Pipeline, paths []string, asJSON bool, annotateDir string) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var bar *progressbar.ProgressBar
	if len(paths) > 1 {
		bar = newBar(errOut, len(paths), "analysing", "images")
	}
	names := annotationNames(paths)
	var bad, failed int
	var firstFailure error
	fail := func(err error) {
		if failed++; firstFailure == nil {
			firstFailure = err
		}
	}
	enc := json.NewEncoder(out)
	start := time.Now()
	err := p.AnalyzeFiles(cmd.Context(), paths, annotateDir != "", func(o analyze.Output) {
		if bar != nil {
			_ = bar.Add(1)
		}
		if o.Err != nil {
			var ie *analyze.InputError
			if errors.As(o.Err, &ie) {
				bad++
			} else {
				fail(o.Err)
			}
			if bar != nil {
				_ = bar.Clear()
			}
			fmt.Fprintln(errOut, "atelier: analyze:", oneLine(o.Err))
			return
		}
		if asJSON {
			if err := enc.Encode(o.Result); err != nil {
				fail(err)
			}
		} else {
			printResult(out, o.Result)
		}
		if annotateDir != "" {
			if err := writeAnnotated(filepath.Join(annotateDir, names[o.Index]), o); err != nil {
				fail(err)
				fmt.Fprintln(errOut, "atelier: analyze:", oneLine(err))
			}
		}
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintf(errOut, "analysed %d images in %.1f s (%.2f images/s)\n", len(paths), time.Since(start).Seconds(),
			float64(len(paths))/time.Since(start).Seconds())
	}
	switch {
	case err != nil:
		return err
	case failed > 0:
		return fmt.Errorf("%d of %d images failed; the first: %w", failed, len(paths), firstFailure)
	case bad > 0:
		return badInputf("%d of %d images could not be read", bad, len(paths))
	}
	return nil
}

// printResult writes one image's garments for a reader.
func printResult(w io.Writer, r analyze.Result) {
	fmt.Fprintf(w, "%s (%dx%d): %s, %.0f ms\n", r.Image, r.Width, r.Height, garments(len(r.Garments)), r.Timings["total"])
	for _, g := range r.Garments {
		fmt.Fprintf(w, "  %-5s %.2f  box %.0f,%.0f,%.0f,%.0f  %s (%.2f)", g.Type, g.Score, g.Box[0], g.Box[1], g.Box[2], g.Box[3],
			g.Category.Name, g.Category.Score)
		for i, a := range g.Attributes {
			if i == 0 {
				fmt.Fprint(w, "  attributes:")
			}
			fmt.Fprintf(w, " %s", a.Name)
		}
		fmt.Fprintln(w)
	}
}

// annotationNames gives each image the PNG name of its base name, numbered when two images
// share one.
func annotationNames(paths []string) []string {
	names := make([]string, len(paths))
	seen := map[string]int{}
	for i, p := range paths {
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if n := seen[base]; n > 0 {
			names[i] = fmt.Sprintf("%s-%d.png", base, n)
		} else {
			names[i] = base + ".png"
		}
		seen[base]++
	}
	return names
}

func writeAnnotated(path string, o analyze.Output) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = imageio.EncodePNG(f, analyze.Annotate(o.Image, o.Result))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// oneLine keeps an error message on one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// garments says "1 garment" or "N garments".
func garments(n int) string {
	if n == 1 {
		return "1 garment"
	}
	return fmt.Sprintf("%d garments", n)
}
