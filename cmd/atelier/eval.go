package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/classifier"
	"github.com/atelier-ml/atelier/nn"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var bundleDir, data, format, split string
		var asJSON bool
		var images int
		var minScore float64
		var poolAtAligned bool
		cmd := &cobra.Command{
			Use:   "eval TASK [--model BUNDLE_DIR] --data DIR --format F [--split test] [--json]",
			Short: "Evaluate a model by the published protocol of its benchmark",
			Long: `Evaluates TASK (classifier, fashionnet, detector, aligner, pipeline) on a dataset split (test
when not given; detector: val for data without a test split).

classifier: accuracy, per-class accuracy (recall) and the confusion matrix (rows: true class,
columns: predicted class), as {"accuracy", "per_class": {...}, "confusion": [[...]], "n"}.

pipeline (--format deepfashion2 or deepfashion-c2s; split test, or val without one): indexes the
split's shop garments that have an item id as "atelier index" does, analyses its first --images
street photos (file order) as "atelier analyze" does and searches the catalog with each garment.
Garments are matched to the labels by IoU >= 0.5 (highest score first); it reports the detected
rate, category accuracy (of all labeled garments and of the detected ones; where the labels name
no category of the model, as DeepFashion2's classes, the garment type is scored), item top-1 and top-5
(of the garments whose item is in the catalog), the end-to-end accuracy (detected, right category
and, where defined, right item first), and images per second of the street photos' analysis and
search (wall clock, without model loading and catalog building, which catalog_seconds times),
as {"images", "garments", "items", "categorized", "detected", "category_accuracy", "category_accuracy_matched",
"item_top1", "item_top5", "end_to_end", "images_per_second", "seconds", "catalog_items",
"catalog_seconds"}.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				task := args[0]
				if task != taskPipeline {
					if err := checkTask(task); err != nil {
						return fmt.Errorf("%w; eval also knows %s", err, taskPipeline)
					}
				}
				if data == "" {
					return badInputf("--data is required")
				}
				if format == "" && task != model.TaskClassifier {
					return badInputf("--format is required for %s", task)
				}
				switch task {
				case taskPipeline:
					return evalPipeline(cmd, pipelineOptions{model: bundleDir, format: format, data: data, split: split,
						images: images, minScore: minScore, asJSON: asJSON, poolAtAligned: poolAtAligned})
				case model.TaskFashionNet:
					if split == "" {
						split = string(dataset.Test)
					}
					return evalFashionNet(cmd, bundleDir, format, data, split, asJSON)
				case model.TaskDetector:
					return evalDetector(cmd, bundleDir, format, data, split, asJSON)
				case model.TaskAligner:
					return evalAligner(cmd, bundleDir, format, data, split, asJSON)
				}
				return evalClassifier(cmd, bundleDir, format, data, split, asJSON)
			},
		}
		f := cmd.Flags()
		f.StringVar(&bundleDir, "model", "", "model bundle folder (default: the bundle built into the binary)")
		f.StringVar(&data, "data", "", "dataset folder")
		f.StringVar(&format, "format", "", "dataset format (classifier: fashion-mnist, the default)")
		f.StringVar(&split, "split", "", "split to evaluate (default test)")
		f.BoolVar(&asJSON, "json", false, "print one JSON document on stdout")
		f.IntVar(&images, "images", 100, "pipeline: street photos analysed")
		f.Float64Var(&minScore, "min-score", 0.3, "pipeline: lowest detection score of a garment")
		f.BoolVar(&poolAtAligned, "pool-at-aligned", false, "pipeline: FashionNet pools at the aligner's landmarks instead of its own")
		return cmd
	})
}

// evalClassifier is "atelier eval classifier".
func evalClassifier(cmd *cobra.Command, bundleDir, format, data, split string, asJSON bool) error {
	if split == "" {
		split = string(dataset.Test)
	}
	if splits := []string{string(dataset.Train), string(dataset.Test)}; !slices.Contains(splits, split) {
		return badInputf("unknown --split %q for the classifier (known: %v)", split, splits)
	}
	if bundleDir == "" {
		return badInputf("--model is required for the classifier: the built-in bundle has none (models/fashion-mnist holds the Fashion-MNIST one)")
	}
	b, err := model.Load(bundleDir)
	if err != nil {
		return badInput(err)
	}
	d, err := loadClassifierData(format, data)
	if err != nil {
		return err
	}
	backend, _, err := nn.NewBackend()
	if err != nil {
		return err
	}
	res, err := classifier.Evaluate(backend, b, d, dataset.Split(split))
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	fmt.Fprintf(out, "accuracy %.4f on %d %s images\n", res.Accuracy, res.N, split)
	for _, name := range b.Vocabulary.CategoryNames() {
		if acc, ok := res.PerClass[name]; ok {
			fmt.Fprintf(out, "  %-14s %.4f\n", name, acc)
		}
	}
	return nil
}
