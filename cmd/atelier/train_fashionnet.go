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

	"github.com/gomlx/compute"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/fashionnet"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// fashionNetFormats are the --format values FashionNet trains and evaluates on.
var fashionNetFormats = []string{dataset.FormatAttr, dataset.FormatInShop, dataset.FormatC2S, dataset.FormatFLD}

// fashionNetDefaultEpochs is the training length when neither --epochs nor --steps is given.
const fashionNetDefaultEpochs = 20

// fashionNetFlags are the options of "train fashionnet" beyond those every task has.
type fashionNetFlags struct {
	inputSize, embeddingDim, landmarkSteps, views int
	arch, widths, attrLoss, mining                string
	attrHidden                                    int
	noPooling, poolAtTruth, headOnly              bool
	identityWeight, attrWeight, attrAdjust        float64
}

// addFashionNetFlags registers the fashionnet options on the train command's flags.
func addFashionNetFlags(f *pflag.FlagSet) *fashionNetFlags {
	d := fashionnet.DefaultConfig()
	o := &fashionNetFlags{}
	f.IntVar(&o.inputSize, "input-size", d.Backbone.InputSize, "fashionnet: side of the garment crops (a multiple of 32)")
	f.StringVar(&o.arch, "backbone", d.Backbone.Arch, "fashionnet: backbone architecture (patch or resnet)")
	f.StringVar(&o.widths, "backbone-widths", joinInts(d.Backbone.Widths[:]), "fashionnet: channels of the 4 backbone stages")
	f.IntVar(&o.embeddingDim, "embedding-dim", d.EmbeddingDim, "fashionnet: size of the identity embedding")
	f.StringVar(&o.attrLoss, "attr-loss", d.AttributeLoss, "fashionnet: attribute loss, ranking or weighted-bce")
	f.StringVar(&o.mining, "mining", d.Mining, "fashionnet: triplet negatives, hard or random")
	f.BoolVar(&o.noPooling, "no-landmark-pooling", false, "fashionnet: no landmark-pooled branch (ablation)")
	f.BoolVar(&o.poolAtTruth, "pool-at-truth", false, "fashionnet: pool at the labeled landmarks while training")
	f.IntVar(&o.landmarkSteps, "landmark-steps", d.LandmarkSteps, "fashionnet: steps training the landmark branch alone first (0: joint)")
	f.Float64Var(&o.identityWeight, "identity-weight", d.Weights.Identity, "fashionnet: weight of the item-classification loss on the embedding (0: triplet loss alone)")
	f.Float64Var(&o.attrWeight, "attr-weight", d.Weights.Attributes, "fashionnet: weight of the attribute loss")
	f.Float64Var(&o.attrAdjust, "attr-adjust", d.AttributeAdjust, "fashionnet: tau of the attribute scores' prior correction, logit - tau*ln(prior) (0: raw scores)")
	f.IntVar(&o.views, "views", d.ViewsPerItem, "fashionnet: K of the P items x K views batches")
	f.IntVar(&o.attrHidden, "attr-hidden", d.AttributeHidden, "fashionnet: width of the attribute head's hidden layer, on the fused features and the backbone's texture statistics (0: one linear layer on the fused features)")
	f.BoolVar(&o.headOnly, "attr-head-only", false, "fashionnet: keep the network of --init and train only a new attribute head (--attr-hidden wide) on its features of the data")
	return o
}

// config turns the flags into a network configuration.
func (o *fashionNetFlags) config() (fashionnet.Config, error) {
	cfg := fashionnet.DefaultConfig()
	cfg.Backbone.InputSize, cfg.Backbone.Arch = o.inputSize, o.arch
	if cfg.Backbone.Arch == nn.ArchResNet {
		cfg.Backbone.Depths = nn.ResNetBackbone().Depths
	}
	parts := strings.Split(o.widths, ",")
	if len(parts) != 4 {
		return cfg, badInputf("--backbone-widths %q: want 4 numbers separated by commas", o.widths)
	}
	for i, p := range parts {
		w, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return cfg, badInputf("--backbone-widths %q: %v", o.widths, err)
		}
		cfg.Backbone.Widths[i] = w
	}
	cfg.EmbeddingDim, cfg.AttributeLoss, cfg.Mining = o.embeddingDim, o.attrLoss, o.mining
	cfg.LandmarkPooling, cfg.PoolAtTruth = !o.noPooling, o.poolAtTruth
	cfg.LandmarkSteps, cfg.ViewsPerItem = o.landmarkSteps, o.views
	cfg.Weights.Identity, cfg.Weights.Attributes, cfg.AttributeAdjust = o.identityWeight, o.attrWeight, o.attrAdjust
	cfg.AttributeHidden = o.attrHidden
	if err := cfg.Validate(); err != nil {
		return cfg, badInput(err)
	}
	return cfg, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// loadFashionNetData reads the datasets of --data and --format, which may each list several
// folders and formats separated by commas, in pairs (FashionNet learns from all at once).
func loadFashionNetData(formats, dirs string) ([]*dataset.Dataset, error) {
	fs, ds := strings.Split(formats, ","), strings.Split(dirs, ",")
	if len(fs) != len(ds) {
		return nil, badInputf("--format lists %d formats and --data %d folders; give one format per folder", len(fs), len(ds))
	}
	var sets []*dataset.Dataset
	for i, f := range fs {
		if !slices.Contains(fashionNetFormats, f) {
			return nil, badInputf("fashionnet reads --format %s, not %q", strings.Join(fashionNetFormats, ", "), f)
		}
		fmt.Fprintf(os.Stderr, "reading %s from %s\n", f, ds[i])
		d, err := dataset.Load(f, ds[i])
		if err != nil {
			return nil, badInput(fmt.Errorf("reading the dataset: %w", err))
		}
		sets = append(sets, d)
	}
	return sets, nil
}

// trainFashionNet is "atelier train fashionnet".
func trainFashionNet(cmd *cobra.Command, data, format, out string, tc train.Config, asJSON, noAugment bool, flags *fashionNetFlags) error {
	cfg, err := flags.config()
	if err != nil {
		return err
	}
	if flags.headOnly && (tc.InitFrom == "" || cfg.AttributeHidden < 1) {
		return badInputf("--attr-head-only trains a new attribute head for the network of --init: give --init and --attr-hidden >= 1")
	}
	if tc.Epochs == 0 && tc.Steps == 0 {
		tc.Epochs = fashionNetDefaultEpochs
	}
	sets, err := loadFashionNetData(format, data)
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
	trainingDir := fashionnet.TrainingDir
	var rep *fashionnet.Report
	if flags.headOnly {
		trainingDir = fashionnet.HeadTrainingDir
		rep, err = trainAttributeHead(ctx, backend, backendName, sets, data, out, tc, cfg.AttributeHidden)
	} else {
		rep, err = fashionnet.Train(ctx, backend, sets, fashionnet.Options{
			Out:       out,
			Config:    cfg,
			Train:     tc,
			NoAugment: noAugment,
			Dataset:   data,
			Backend:   backendName,
			Log:       os.Stderr,
		})
	}
	switch {
	case errors.Is(err, train.ErrNoCheckpoint):
		return badInput(err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w; the checkpoint is in %s/%s: run again with --resume to continue", err, out, trainingDir)
	case err != nil:
		return err
	}
	sum := trainSummary{Task: model.TaskFashionNet, Out: out, Backend: backendName, Seconds: time.Since(start).Seconds(), Metrics: rep.Metrics}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(sum)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "trained fashionnet for %d steps in %.0f s on %s; bundle in %s\n", rep.Run.Step, sum.Seconds, backendName, out)
	return printFashionNetResult(cmd, rep.Metrics)
}

// trainAttributeHead is "atelier train fashionnet --attr-head-only": a new attribute head of
// width hidden for the network of --init (tc.InitFrom), trained on its features of the data.
func trainAttributeHead(ctx context.Context, backend compute.Backend, backendName string, sets []*dataset.Dataset,
	data, out string, tc train.Config, hidden int) (*fashionnet.Report, error) {
	var bar *progressbar.ProgressBar
	return fashionnet.TrainAttributeHead(ctx, backend, sets, fashionnet.HeadOptions{
		Init: tc.InitFrom, Out: out, Hidden: hidden, Train: tc, Dataset: data, Backend: backendName, Log: os.Stderr,
		Progress: func(done, total int) {
			if bar == nil {
				bar = newBar(os.Stderr, total, "attribute features", "garments")
			}
			_ = bar.Set(done)
		},
	})
}
