package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "index --catalog DIR --format F [--index PATH | --index weaviate://HOST:PORT]",
			Short: "Embed a shop catalog into a search index",
			Long:  `Embeds every item of a catalog and stores it in the embedded index or in Weaviate.`,
			RunE:  notYet("index"),
		}
	})
}
