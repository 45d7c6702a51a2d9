package main

import "github.com/spf13/cobra"

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "serve [--addr 127.0.0.1:8080] [--model BUNDLE_DIR] [--index ...] [--data-dir DIR]",
			Short: "Serve the HTTP API and the web page",
			Long:  `Serves /v1/analyze, /v1/search, the catalog, the web page, /metrics and health checks.`,
			RunE:  notYet("serve"),
		}
	})
}
