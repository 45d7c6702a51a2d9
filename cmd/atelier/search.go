package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "search [--index ...] IMAGE [--k 10] [--json]",
			Short: "Find the catalog items most similar to the garments in a photo",
			Long:  `Analyses IMAGE and searches the catalog index for each garment.`,
			RunE:  notYet("search"),
		}
	})
}
