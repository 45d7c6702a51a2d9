package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "analyze [--model BUNDLE_DIR] IMAGE... [--json] [--annotate OUT_DIR]",
			Short: "Detect, align and recognise every garment in photos",
			Long:  `Runs the whole pipeline on each image: garments with box, type, category, attributes and landmarks.`,
			RunE:  notYet("analyze"),
		}
	})
}
