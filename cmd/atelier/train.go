package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "train TASK --data DIR --format F --out BUNDLE_DIR [--epochs E | --steps N] [--resume]",
			Short: "Train a model (classifier, fashionnet, detector, aligner)",
			Long:  `Trains TASK on a dataset and writes a model bundle.`,
			RunE:  notYet("train"),
		}
	})
}
