package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// benchmark is one named benchmark of "atelier bench". It returns the figures to print (a value
// that encodes to JSON) and writes progress to the given stream.
type benchmark struct {
	help string
	run  func(ctx context.Context, args []string, progress io.Writer) (any, error)
}

// benchmarks is filled by the init functions of the bench_*.go files.
var benchmarks = map[string]benchmark{}

func registerBenchmark(name, help string, run func(context.Context, []string, io.Writer) (any, error)) {
	benchmarks[name] = benchmark{help: help, run: run}
}

func init() {
	subcommands = append(subcommands, newBenchCmd)
}

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench NAME [--json] [BENCHMARK FLAGS...]",
		Short: "Run a benchmark and print its figures",
		Long: "Runs a named benchmark (\"all\" runs every one) and prints its figures as JSON on stdout.\n" +
			"Flags other than --json are passed to the benchmark.\n\nBenchmarks:\n" + benchmarkList(),
		// The benchmarks parse their own flags; only --json and --help belong to this command.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON := false
			var rest []string
			for _, a := range args {
				switch a {
				case "--json":
					asJSON = true
				case "-h", "--help":
					return cmd.Help()
				default:
					rest = append(rest, a)
				}
			}
			if len(rest) == 0 {
				return badInputf("bench needs a benchmark name; known: %s", strings.Join(sortedBenchmarkNames(), ", "))
			}
			args = rest
			names := []string{args[0]}
			if args[0] == "all" {
				names = sortedBenchmarkNames()
			}
			results := map[string]any{}
			for _, name := range names {
				b, ok := benchmarks[name]
				if !ok {
					return badInputf("unknown benchmark %q; known: %s", name, strings.Join(sortedBenchmarkNames(), ", "))
				}
				fmt.Fprintf(os.Stderr, "bench %s ...\n", name)
				r, err := b.run(cmd.Context(), args[1:], os.Stderr)
				if err != nil {
					return fmt.Errorf("bench %s: %w", name, err)
				}
				results[name] = r
			}
			var out any = results
			if len(names) == 1 {
				out = results[names[0]]
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			if !asJSON {
				enc.SetIndent("", "  ")
			}
			return enc.Encode(out)
		},
	}
	return cmd
}

func sortedBenchmarkNames() []string {
	var names []string
	for n := range benchmarks {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func benchmarkList() string {
	var b strings.Builder
	for _, n := range sortedBenchmarkNames() {
		fmt.Fprintf(&b, "  %-16s %s\n", n, benchmarks[n].help)
	}
	return b.String()
}
