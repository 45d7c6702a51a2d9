package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/fashionnet"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var bundleDir, data, format, split string
		cmd := &cobra.Command{
			Use:   "calibrate --model BUNDLE_DIR --data DIR --format F [--split val]",
			Short: "Calibrate FashionNet's attribute scores on photos it did not train on",
			Long: `Fits, for each attribute of the bundle's FashionNet, the probability that a photo shows it
given the network's logit (a logistic fit on the garments of --split that are labelled with the
attribute, Platt scaling) and its base rate there, and writes them into the bundle's
configuration. The network then ranks a photo's attributes by probability over base rate, which
maximises in expectation DeepFashion's attribute recall (averaged over attributes), and reports
that ratio's logistic as each attribute's score (above 0.5: the photo makes the attribute more
likely than its base rate). This supersedes the prior correction of --attr-adjust.

Use a split that the network did not train on: val (the default), which "atelier train" never
reads. --data and --format take comma-separated lists, as for "atelier train fashionnet";
attribute photos (deepfashion-attr) are the ones that count. The bundle's network gets a new ID,
so catalogs embedded by it are embedded again by "atelier index" and "atelier serve".`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				switch {
				case bundleDir == "":
					return badInputf("--model is required: calibrate writes into a bundle folder")
				case data == "" || format == "":
					return badInputf("--data and --format are required")
				}
				return calibrate(cmd, bundleDir, format, data, dataset.Split(split))
			},
		}
		f := cmd.Flags()
		f.StringVar(&bundleDir, "model", "", "model bundle folder, rewritten in place")
		f.StringVar(&data, "data", "", "dataset folders, comma-separated")
		f.StringVar(&format, "format", "", "their formats, comma-separated")
		f.StringVar(&split, "split", string(dataset.Val), "split to calibrate on")
		return cmd
	})
}

func calibrate(cmd *cobra.Command, bundleDir, format, data string, split dataset.Split) error {
	if err := checkFashionNetSplit(string(split)); err != nil {
		return err
	}
	b, err := model.Load(bundleDir)
	if err != nil {
		return badInput(err)
	}
	if _, err := b.Network(model.TaskFashionNet); err != nil {
		return badInput(fmt.Errorf("%s: %w", bundleDir, err))
	}
	sets, backend, err := fashionNetInputs(format, data)
	if err != nil {
		return err
	}
	garments, err := fashionnet.Calibrate(backend, b, sets, split, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if err := b.Save(bundleDir); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "calibrated %d attributes on %d garments of the %s split; wrote %s\n",
		len(b.Vocabulary.Attributes), garments, split, bundleDir)
	return nil
}
