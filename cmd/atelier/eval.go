package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "eval TASK --model BUNDLE_DIR --data DIR --format F [--split test] [--json]",
			Short: "Evaluate a model by the published protocol of its benchmark",
			Long:  `Evaluates TASK (classifier, fashionnet, detector, aligner) on a dataset split.`,
			RunE:  notYet("eval"),
		}
	})
}
