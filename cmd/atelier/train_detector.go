package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/detector"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// detectorDefaultEpochs is the detector's training length when neither --epochs nor --steps is
// given.
const detectorDefaultEpochs = 60

// detectorFlags are the options of "train detector" beyond those every task has.
type detectorFlags struct {
	inputSize int
	classes   string
}

// addDetectorFlags registers the detector options on the train command's flags.
func addDetectorFlags(f *pflag.FlagSet) *detectorFlags {
	o := &detectorFlags{}
	f.IntVar(&o.inputSize, "det-input-size", detector.DefaultConfig(nil).InputSize(), "detector: side of the letterboxed input (a multiple of 32)")
	f.StringVar(&o.classes, "det-classes", "", "detector: classes, types (upper/lower/full) or df2 (DeepFashion2's 13; the default for deepfashion2 data)")
	return o
}

// loadVisionData reads the one dataset that the detector or the aligner trains or evaluates on;
// problems with it are bad input.
func loadVisionData(task, format, dir string) (*dataset.Dataset, error) {
	if !slices.Contains(dataset.Formats, format) || format == dataset.FormatFashionMNIST {
		return nil, badInputf("the %s reads photos with boxes: --format %q is not one of %s", task, format,
			strings.Join(slices.DeleteFunc(slices.Clone(dataset.Formats), func(f string) bool { return f == dataset.FormatFashionMNIST }), ", "))
	}
	fmt.Fprintf(os.Stderr, "reading %s from %s\n", format, dir)
	d, err := dataset.Load(format, dir)
	if err != nil {
		return nil, badInput(fmt.Errorf("reading the dataset: %w", err))
	}
	return d, nil
}

// runVisionTraining runs a detector or aligner training (fn) on the program's backend with a
// context that SIGINT cancels, and prints its summary.
func runVisionTraining(cmd *cobra.Command, task, out, trainingDir string, asJSON bool,
	fn func(ctx context.Context, backend compute.Backend, backendName string) (any, error)) error {
	backend, backendName, err := nn.NewBackend()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	metrics, err := fn(ctx, backend, backendName)
	switch {
	case errors.Is(err, train.ErrNoCheckpoint):
		return badInput(err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w; the checkpoint is in %s/%s: run again with --resume to continue", err, out, trainingDir)
	case err != nil:
		return err
	}
	sum := trainSummary{Task: task, Out: out, Backend: backendName, Seconds: time.Since(start).Seconds(), Metrics: metrics}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(sum)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "trained %s in %.0f s on %s; bundle in %s\n", task, sum.Seconds, backendName, out)
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(metrics)
}

// trainDetector is "atelier train detector": tc holds the options common to every task.
func trainDetector(cmd *cobra.Command, data, format, out string, tc train.Config, asJSON bool, o *detectorFlags) error {
	d, err := loadVisionData(model.TaskDetector, format, data)
	if err != nil {
		return err
	}
	classes, err := detector.ClassesFor(format, o.classes)
	if err != nil {
		return badInput(err)
	}
	cfg := detector.DefaultConfig(classes)
	cfg.Backbone.InputSize = o.inputSize
	if err := cfg.Validate(); err != nil {
		return badInput(err)
	}
	if tc.Epochs == 0 && tc.Steps == 0 {
		tc.Epochs = detectorDefaultEpochs
	}
	tc.Progress = os.Stderr
	return runVisionTraining(cmd, model.TaskDetector, out, detector.TrainingDir, asJSON,
		func(ctx context.Context, backend compute.Backend, backendName string) (any, error) {
			return detector.Train(ctx, backend, d, detector.Options{
				Out: out, Config: cfg, Train: tc, Dataset: data, Format: format, Backend: backendName, Log: os.Stderr,
			})
		})
}

// evalDetector is "atelier eval detector": COCO-style mAP@0.5 and mAP@[.5:.95] per class with
// the geometric consistency pass, and the same without it. An empty split means test, or val
// for data without a test split (DeepFashion2).
func evalDetector(cmd *cobra.Command, bundleDir, format, data, split string, asJSON bool) error {
	b, err := loadBundle(bundleDir)
	if err != nil {
		return badInput(err)
	}
	d, err := loadVisionData(model.TaskDetector, format, data)
	if err != nil {
		return err
	}
	backend, _, err := nn.NewBackend()
	if err != nil {
		return err
	}
	res, err := detector.Evaluate(backend, b, d, dataset.Split(split))
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	fmt.Fprintf(out, "%d images: mAP@0.5 %.4f  mAP@[.5:.95] %.4f  (without the geometric pass: %.4f, %.4f)\n",
		res.Images, res.MAP50, res.MAP, res.Geometry.MAP50Without, res.Geometry.MAPWithout)
	names := make([]string, 0, len(res.PerClass))
	for name := range res.PerClass {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c := res.PerClass[name]
		fmt.Fprintf(out, "  %-22s AP@0.5 %.4f  AP %.4f  (%d boxes)\n", name, c.AP50, c.AP, c.GroundTruths)
	}
	return nil
}
