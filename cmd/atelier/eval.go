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
		cmd := &cobra.Command{
			Use:   "eval TASK --model BUNDLE_DIR --data DIR --format F [--split test] [--json]",
			Short: "Evaluate a model by the published protocol of its benchmark",
			Long: `Evaluates TASK (classifier, fashionnet, detector, aligner) on a dataset split (test when not
given; detector: val for data without a test split).

classifier: accuracy, per-class accuracy (recall) and the confusion matrix (rows: true class,
columns: predicted class), as {"accuracy", "per_class": {...}, "confusion": [[...]], "n"}.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				task := args[0]
				if err := checkTask(task); err != nil {
					return err
				}
				if bundleDir == "" || data == "" {
					return badInputf("--model and --data are required")
				}
				if format == "" && task != model.TaskClassifier {
					return badInputf("--format is required for %s", task)
				}
				switch task {
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
		f.StringVar(&bundleDir, "model", "", "model bundle folder")
		f.StringVar(&data, "data", "", "dataset folder")
		f.StringVar(&format, "format", "", "dataset format (classifier: fashion-mnist, the default)")
		f.StringVar(&split, "split", "", "split to evaluate (default test)")
		f.BoolVar(&asJSON, "json", false, "print one JSON document on stdout")
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
