package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "bench NAME [--json]",
			Short: "Run a benchmark",
			Long:  `Runs a named benchmark and prints its figures.`,
			RunE:  notYet("bench"),
		}
	})
}
