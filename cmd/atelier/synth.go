package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "synth --out DIR [--images N] [--seed S]",
			Short: "Render a synthetic DeepFashion dataset in every benchmark format",
			Long: `Renders garments procedurally from their landmarks and writes the Category and Attribute, In-shop,
Consumer-to-shop, DeepFashion2-style scenes and FLD layouts under DIR, with exact labels.`,
			RunE: notYet("synth"),
		}
	})
}
