package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/gomlx/compute"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/aligner"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// alignerDefaultEpochs is the aligner's training length when neither --epochs nor --steps is
// given.
const alignerDefaultEpochs = 60

// alignerFlags are the options of "train aligner" beyond those every task has.
type alignerFlags struct {
	inputSize, clusters int
}

// addAlignerFlags registers the aligner options on the train command's flags.
func addAlignerFlags(f *pflag.FlagSet) *alignerFlags {
	d := aligner.DefaultConfig()
	o := &alignerFlags{}
	f.IntVar(&o.inputSize, "align-input-size", d.InputSize(), "aligner: side of the garment crops (a multiple of 32)")
	f.IntVar(&o.clusters, "align-clusters", d.Clusters, "aligner: number of pseudo-labels (k of the k-means on landmark configurations)")
	return o
}

// trainAligner is "atelier train aligner": tc holds the options common to every task.
func trainAligner(cmd *cobra.Command, data, format, out string, tc train.Config, asJSON bool, o *alignerFlags) error {
	d, err := loadVisionData(model.TaskAligner, format, data)
	if err != nil {
		return err
	}
	cfg := aligner.DefaultConfig()
	cfg.Backbone.InputSize, cfg.Clusters = o.inputSize, o.clusters
	if err := cfg.Validate(); err != nil {
		return badInput(err)
	}
	if tc.Epochs == 0 && tc.Steps == 0 {
		tc.Epochs = alignerDefaultEpochs
	}
	tc.Progress = os.Stderr
	return runVisionTraining(cmd, model.TaskAligner, out, aligner.TrainingDir, asJSON,
		func(ctx context.Context, backend compute.Backend, backendName string) (any, error) {
			return aligner.Train(ctx, backend, d, aligner.Options{
				Out: out, Config: cfg, Train: tc, Dataset: data, Format: format, Backend: backendName, Log: os.Stderr,
			})
		})
}

// evalAligner is "atelier eval aligner": NE after each cascade stage, per landmark, per FLD
// variation type, and detection rates. An empty split means test.
func evalAligner(cmd *cobra.Command, bundleDir, format, data, split string, asJSON bool) error {
	b, err := loadBundle(bundleDir)
	if err != nil {
		return badInput(err)
	}
	d, err := loadVisionData(model.TaskAligner, format, data)
	if err != nil {
		return err
	}
	backend, _, err := nn.NewBackend()
	if err != nil {
		return err
	}
	if split == "" {
		split = string(dataset.Test)
	}
	res, err := aligner.Evaluate(backend, b, d, dataset.Split(split))
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	fmt.Fprintf(out, "%d landmarks: NE %.4f; by stage", res.Count, res.NE)
	for _, ne := range res.NEByStage {
		fmt.Fprintf(out, " %.4f", ne)
	}
	fmt.Fprintln(out)
	variations := make([]string, 0, len(res.ByVariation))
	for v := range res.ByVariation {
		variations = append(variations, v)
	}
	slices.Sort(variations)
	for _, v := range variations {
		fmt.Fprintf(out, "  %-15s NE %.4f\n", v, res.ByVariation[v])
	}
	return nil
}
