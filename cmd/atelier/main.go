// Command atelier is deep fashion understanding in one binary: it reads and checks DeepFashion-family
// datasets, renders synthetic ones, trains and evaluates models, analyses photos, indexes a catalog
// and serves it all over HTTP. Run "atelier help" for the subcommands.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// exitError carries the process exit status: 1 for a runtime failure, 2 for bad usage or bad input.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput wraps err so that the command exits with status 2.
func badInput(err error) error { return &exitError{code: 2, err: err} }

// badInputf formats a message for exit status 2.
func badInputf(format string, args ...any) error { return badInput(fmt.Errorf(format, args...)) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "atelier",
		Short: "Deep fashion understanding: detect, align, recognise and retrieve garments",
		Long: `atelier finds every garment in a photo (box), places its fashion landmarks (collars,
sleeves, waistline, hems), names its category and attributes, and finds the same or similar
items in a shop catalog. It trains and evaluates its own models on DeepFashion-family data and
serves them over HTTP with a web page.

Dataset formats (--format): deepfashion-attr, deepfashion-inshop, deepfashion-c2s,
deepfashion-fld, deepfashion2, fashion-mnist.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands is filled by the init functions of the files that implement them, one file each.
var subcommands []func() *cobra.Command

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "atelier:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return 2
	}
	return 1
}

// isUsageError recognises cobra's own argument errors (unknown command, wrong argument count).
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// notYet is the body of a subcommand that a later change implements.
func notYet(name string) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		return badInputf("%s is not implemented yet in this build", name)
	}
}
