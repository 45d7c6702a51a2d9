package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	mlmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/classifier"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// tasks are the TASK arguments of train and eval.
var tasks = []string{model.TaskClassifier, model.TaskFashionNet, model.TaskDetector, model.TaskAligner}

// checkTask accepts a known task.
func checkTask(task string) error {
	if !slices.Contains(tasks, task) {
		return badInputf("unknown task %q (known: %s)", task, strings.Join(tasks, ", "))
	}
	return nil
}

// loadClassifierData reads the classifier's dataset for train or eval; problems with it are bad input.
func loadClassifierData(format, dir string) (*dataset.Dataset, error) {
	if format == "" {
		format = dataset.FormatFashionMNIST
	}
	if !slices.Contains(dataset.Formats, format) {
		return nil, badInputf("unknown --format %q (known: %s)", format, strings.Join(dataset.Formats, ", "))
	}
	if format != dataset.FormatFashionMNIST {
		return nil, badInputf("the classifier reads images stored as arrays: --format %s, not %s", dataset.FormatFashionMNIST, format)
	}
	fmt.Fprintf(os.Stderr, "reading %s from %s\n", format, dir)
	d, err := dataset.Load(format, dir)
	if err != nil {
		return nil, badInput(fmt.Errorf("reading the dataset: %w", err))
	}
	return d, nil
}

// parseWidths reads a comma-separated list of channel counts ("32,64,128").
func parseWidths(s string) ([]int, error) {
	var widths []int
	for _, f := range strings.Split(s, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || w < 1 {
			return nil, badInputf("--widths %q: want positive integers separated by commas", s)
		}
		widths = append(widths, w)
	}
	return widths, nil
}

// defaultEpochs is the classifier's training length when neither --epochs nor --steps is given.
const defaultEpochs = 20

// trainSummary is what "train" prints on stdout once done.
type trainSummary struct {
	Task    string  `json:"task"`
	Out     string  `json:"out"`
	Backend string  `json:"backend"`
	Seconds float64 `json:"seconds"`
	Metrics any     `json:"metrics"`
}

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var (
			data, format, out, widths string
			initFrom                  string
			epochs, steps, batch, pad int
			warmup, blocks            int
			seed                      uint64
			lr, minLR, weightDecay    float64
			resume, asJSON, noAugment bool
			checkpointEvery           time.Duration
			fnet                      *fashionNetFlags
			det                       *detectorFlags
			al                        *alignerFlags
		)
		cmd := &cobra.Command{
			Use:   "train TASK --data DIR --format F --out BUNDLE_DIR [--epochs E | --steps N] [--resume | --init BUNDLE_DIR]",
			Short: "Train a model (classifier, fashionnet, detector, aligner)",
			Long: `Trains TASK on a dataset and writes a model bundle.

classifier: a small ResNet-style CNN on Fashion-MNIST (--format fashion-mnist), trained with
AdamW, a cosine learning rate with warm-up and augmentation (random crops with zero padding,
horizontal flips), then measured on the test split; the figures go into the bundle.
fashionnet, detector, aligner: the networks of the pipeline bundle; their own flags are prefixed
by the task (fashionnet's are not) and listed below.

The training state (checkpoints every --checkpoint-every and at the end, curves.json and the
curves.png plot) lives in BUNDLE_DIR/training. Ctrl-C stops after writing a checkpoint; --resume
continues from the last one, with the same result as an uninterrupted run. Without --resume a run
starts from scratch and replaces that state; --init starts it from the weights of TASK's network
in another bundle instead (fine-tuning, with a new learning-rate schedule; a detector or a
FashionNet may be fine-tuned at another input size, FashionNet's landmark layer resampled to the
new size, an aligner only at its own). The bundle is written when training completes.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				task := args[0]
				if err := checkTask(task); err != nil {
					return err
				}
				if data == "" || out == "" {
					return badInputf("--data and --out are required")
				}
				if epochs > 0 && steps > 0 {
					return badInputf("give --epochs or --steps, not both")
				}
				if epochs < 0 || steps < 0 || batch < 1 || lr <= 0 {
					return badInputf("--epochs, --steps must be >= 0, --batch >= 1 and --lr > 0")
				}
				if format == "" && task != model.TaskClassifier {
					return badInputf("--format is required for %s (one of %s)", task, strings.Join(dataset.Formats, ", "))
				}
				// Options every task has; each task fills in its default length.
				tc := train.Config{
					BatchSize: batch, Epochs: epochs, Steps: steps, LearningRate: lr, MinLearningRate: minLR,
					WarmupSteps: warmup, WeightDecay: weightDecay, Seed: seed, Resume: resume,
					CheckpointEvery: checkpointEvery, Progress: os.Stderr,
				}
				if initFrom != "" {
					sameSize := 0
					if task == model.TaskAligner {
						sameSize = al.inputSize
					}
					init, err := initWeights(task, initFrom, sameSize)
					if err != nil {
						return err
					}
					tc.Init, tc.InitFrom = init, initFrom
				}
				switch task {
				case model.TaskFashionNet:
					return trainFashionNet(cmd, data, format, out, tc, asJSON, noAugment, fnet)
				case model.TaskDetector:
					return trainDetector(cmd, data, format, out, tc, asJSON, det)
				case model.TaskAligner:
					return trainAligner(cmd, data, format, out, tc, asJSON, al)
				}
				w, err := parseWidths(widths)
				if err != nil {
					return err
				}
				return trainClassifier(cmd, data, format, out, tc, asJSON, classifier.Options{
					Config: classifier.Config{Widths: w, Blocks: blocks}, Pad: pad, NoAugment: noAugment,
				})
			},
		}
		f := cmd.Flags()
		f.StringVar(&data, "data", "", "dataset folder")
		f.StringVar(&format, "format", "", "dataset format (classifier: fashion-mnist, the default)")
		f.StringVar(&out, "out", "", "bundle folder to write (created if needed)")
		f.IntVar(&epochs, "epochs", 0, "passes over the training split (without --steps: each task's default, 20 for the classifier)")
		f.IntVar(&steps, "steps", 0, "training steps, instead of --epochs")
		f.IntVar(&batch, "batch", 64, "batch size")
		f.Float64Var(&lr, "lr", 2e-3, "peak learning rate")
		f.Float64Var(&minLR, "min-lr", 0, "learning rate at the end of the cosine schedule")
		f.IntVar(&warmup, "warmup", 500, "warm-up steps")
		f.Float64Var(&weightDecay, "weight-decay", 0.05, "AdamW weight decay")
		f.Uint64Var(&seed, "seed", 1, "seed of the initialisation, example order and augmentation")
		f.BoolVar(&resume, "resume", false, "continue from the last checkpoint in BUNDLE_DIR/training")
		f.StringVar(&initFrom, "init", "", "start from the weights of TASK's network in this bundle folder (fine-tuning; the network flags must describe the same network, except the input size of fashionnet and the detector)")
		f.DurationVar(&checkpointEvery, "checkpoint-every", 5*time.Minute, "time between checkpoints")
		f.StringVar(&widths, "widths", "32,64,128", "classifier: channels of each stage")
		f.IntVar(&blocks, "blocks", 1, "classifier: residual blocks per stage")
		f.IntVar(&pad, "pad", 2, "classifier: padding of the random crops")
		f.BoolVar(&noAugment, "no-augment", false, "classifier, fashionnet: train without augmentation")
		f.BoolVar(&asJSON, "json", false, "print a JSON summary on stdout")
		fnet, det, al = addFashionNetFlags(f), addDetectorFlags(f), addAlignerFlags(f)
		return cmd
	})
}

// initWeights returns a train.Config.Init that loads the task's network of the bundle in dir;
// the bundle is read now, so that a wrong --init fails before the data is read. sameSize, when
// positive, is the input side of the new network, which must be the bundle network's: the
// aligner's dense layers read flattened feature maps (FashionNet adapts its one such layer, and
// the detector is convolutional throughout).
func initWeights(task, dir string, sameSize int) (func(*mlmodel.Store) error, error) {
	b, err := model.Load(dir)
	if err != nil {
		return nil, badInput(fmt.Errorf("--init: %w", err))
	}
	n, err := b.Network(task)
	if err != nil {
		return nil, badInput(fmt.Errorf("--init %s: %w", dir, err))
	}
	if sameSize > 0 && n.InputSize[0] != sameSize {
		return nil, badInputf("--init %s: its %s takes %d px crops, not %d: fine-tuning it needs the same input size",
			dir, task, n.InputSize[0], sameSize)
	}
	return func(store *mlmodel.Store) error {
		_, err := b.LoadNetwork(task, store)
		return err
	}, nil
}

// trainClassifier is "atelier train classifier": tc holds the options common to every task,
// opts the classifier's own (its Out and Train are set here).
func trainClassifier(cmd *cobra.Command, data, format, out string, tc train.Config, asJSON bool, opts classifier.Options) error {
	if tc.Epochs == 0 && tc.Steps == 0 {
		tc.Epochs = defaultEpochs
	}
	d, err := loadClassifierData(format, data)
	if err != nil {
		return err
	}
	backend, backendName, err := nn.NewBackend()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	opts.Out, opts.Train = out, tc
	opts.Dataset, opts.Format, opts.Backend, opts.Log = "Fashion-MNIST", dataset.FormatFashionMNIST, backendName, os.Stderr
	result, err := classifier.Train(ctx, backend, d, opts)
	switch {
	case errors.Is(err, train.ErrNoCheckpoint):
		return badInput(err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w; the checkpoint is in %s/%s: run again with --resume to continue", err, out, classifier.TrainingDir)
	case err != nil:
		return err
	}
	sum := trainSummary{Task: model.TaskClassifier, Out: out, Backend: backendName, Seconds: time.Since(start).Seconds(), Metrics: result}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(sum)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "trained classifier in %.0f s on %s; test accuracy %.4f; bundle in %s\n",
		sum.Seconds, backendName, result.Accuracy, out)
	return nil
}
