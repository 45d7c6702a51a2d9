// Package train runs atelier's training loops on top of GoMLX's trainer: batches drawn from an
// in-memory Source in a seeded order, AdamW with a cosine learning-rate schedule and warm-up, a
// progress bar with loss and ETA, periodic checkpoints that a later run resumes from (step,
// weights and optimizer state), loss curves written as JSON and PNG next to the checkpoints, and a
// clean stop when its context is cancelled (on SIGINT, by the caller).
//
// For a given seed a run is deterministic on the Go backend: the same steps see the same examples
// with the same augmentation whether or not the run was interrupted and resumed.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	gtrain "github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/ml/train/optimizer/cosineschedule"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/schollz/progressbar/v3"
)

// Source is an in-memory training set that builds batches on demand.
type Source interface {
	// Len is the number of examples.
	Len() int
	// Batch returns the inputs and labels of the examples at the indices idx, drawing any random
	// augmentation from rng. Every call returns tensors of the same shapes for len(idx) examples.
	Batch(idx []int, rng *rand.Rand) (inputs, labels []*tensors.Tensor, err error)
}

// ModelFn builds the network's graph: inputs (as a Source yields them) to predictions. It is
// GoMLX's train.ModelFn; whether the graph trains is model.Store.IsTraining.
type ModelFn = gtrain.ModelFn

// LossFn turns labels and predictions into a scalar loss (GoMLX's loss.LossFn).
type LossFn = loss.LossFn

// Config sets up a run. Zero values take the defaults named on each field.
type Config struct {
	// Name labels the progress bar and the curve plot ("classifier", ...).
	Name string
	// BatchSize is the number of examples per step (default 64). A last incomplete batch of an
	// epoch is dropped, so that every step has the same shapes.
	BatchSize int
	// Steps is the total number of steps; when 0, Epochs passes over the data (default 1 epoch).
	Steps, Epochs int
	// LearningRate is the peak learning rate (default 1e-3), reached after WarmupSteps (default 0)
	// and decayed along a cosine to MinLearningRate at the last step.
	LearningRate, MinLearningRate float64
	WarmupSteps                   int
	// WeightDecay is AdamW's decoupled weight decay (0: plain Adam).
	WeightDecay float64
	// Seed fixes the initialisation, the order of the examples and their augmentation.
	Seed uint64
	// Dir holds the checkpoints and curves; empty means no checkpoints.
	Dir string
	// CheckpointEvery is the time between checkpoints (default 5 minutes); one is also written at
	// the end and when the run is cancelled.
	CheckpointEvery time.Duration
	// Resume continues from the last checkpoint in Dir. Without it, a run starts from scratch and
	// replaces the checkpoints and curves that Dir holds.
	Resume bool
	// Init, when set, fills the store of a run that does not resume before its first step, e.g.
	// with the weights of an earlier run to fine-tune them; variables it leaves out are
	// initialised as usual. A resumed run ignores it: its checkpoint holds everything.
	Init func(*model.Store) error
	// InitFrom names what Init loads, for the record ("models/default").
	InitFrom string
	// Progress receives the progress bar (usually os.Stderr); nil shows none.
	Progress io.Writer
	// Metrics are extra per-step values (e.g. the terms of a multi-task loss), recorded as curves
	// next to the loss.
	Metrics []metric.Interface
	// CurvePoints is about how many points each curve gets over the run (default 200): every point
	// is the mean of the values of a window of steps.
	CurvePoints int
}

// Point is one point of a curve: the mean of a value over the window of steps ending at Step.
type Point struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// Result tells how a run went.
type Result struct {
	// Step is the number of steps done so far (the global step), TotalSteps the run's target.
	Step, TotalSteps int
	// StepsPerEpoch is the number of steps of one pass over the data.
	StepsPerEpoch int
	// Curves maps "loss" and each extra metric's short name to its points since step 0.
	Curves map[string][]Point
	// Elapsed is this run's training time; TotalElapsed adds that of the runs it resumed.
	Elapsed, TotalElapsed time.Duration
	// StepsRun is the number of steps this run did.
	StepsRun int
}

// ErrNoCheckpoint is returned when Config.Resume is set but Config.Dir holds no checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint to resume from")

// Curve files written in Config.Dir.
const (
	CurvesJSON = "curves.json"
	CurvesPNG  = "curves.png"
)

func (c *Config) withDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.Steps <= 0 && c.Epochs <= 0 {
		c.Epochs = 1
	}
	if c.LearningRate <= 0 {
		c.LearningRate = 1e-3
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 5 * time.Minute
	}
	if c.CurvePoints <= 0 {
		c.CurvePoints = 200
	}
	if c.Name == "" {
		c.Name = "train"
	}
}

// InitStore prepares a new store for a run with the given seed: GoMLX's initialisers read their
// seed from it (0 there would mean "random", hence the offset).
func InitStore(seed uint64) *model.Store {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, int64(seed%math.MaxInt64)+1)
	return store
}

// Run trains modelFn on src, updating the variables of store (made by InitStore), until the
// target step or until ctx is cancelled; then it writes a checkpoint (when Config.Dir is set). A
// cancelled run returns its Result and an error wrapping ctx.Err().
func Run(ctx context.Context, backend compute.Backend, store *model.Store, modelFn ModelFn, lossFn LossFn, src Source, cfg Config) (*Result, error) {
	cfg.withDefaults()
	n := src.Len()
	if n < cfg.BatchSize {
		return nil, fmt.Errorf("training set has %d examples, fewer than one batch of %d", n, cfg.BatchSize)
	}
	res := &Result{StepsPerEpoch: n / cfg.BatchSize, Curves: map[string][]Point{}}
	res.TotalSteps = cfg.Steps
	if res.TotalSteps <= 0 {
		res.TotalSteps = cfg.Epochs * res.StepsPerEpoch
	}

	var ckpt *checkpoint.Handler
	var before time.Duration // Training time of the runs this one resumes.
	if cfg.Dir != "" {
		var err error
		if ckpt, err = openCheckpoints(store, cfg.Dir, cfg.Resume); err != nil {
			return nil, err
		}
		if cfg.Resume {
			h, err := readHistory(cfg.Dir)
			if err != nil {
				return nil, err
			}
			res.Curves, before = h.Curves, time.Duration(h.Seconds*float64(time.Second))
		}
	}
	if cfg.Init != nil && !cfg.Resume {
		if err := cfg.Init(store); err != nil {
			return nil, fmt.Errorf("initialising the weights: %w", err)
		}
	}
	if err := exceptions.TryCatch[error](func() { res.Step = int(optimizer.GetGlobalStep(store)) }); err != nil {
		return nil, fmt.Errorf("reading the global step: %w", err)
	}
	for name, pts := range res.Curves { // A checkpoint older than the curves: drop the future.
		for len(pts) > 0 && pts[len(pts)-1].Step > res.Step {
			pts = pts[:len(pts)-1]
		}
		res.Curves[name] = pts
	}

	var trainer *gtrain.Trainer
	if err := exceptions.TryCatch[error](func() {
		trainer = gtrain.NewTrainer(backend, store, scheduled(modelFn, cfg, res.TotalSteps), lossFn,
			optimizer.Adam().LearningRate(cfg.LearningRate).WeightDecay(cfg.WeightDecay).Done(),
			cfg.Metrics, nil)
	}); err != nil {
		return nil, fmt.Errorf("creating the trainer: %w", err)
	}
	names := []string{"loss"}
	for _, m := range cfg.Metrics {
		names = append(names, m.ShortName())
	}

	bar := newBar(cfg, res)
	win := newWindow(names, max(1, res.TotalSteps/cfg.CurvePoints))
	stopPrefetch, cancelPrefetch := context.WithCancel(ctx)
	defer cancelPrefetch()
	batches := prefetch(stopPrefetch, src, cfg, res.StepsPerEpoch, res.Step, res.TotalSteps)
	start := time.Now()
	lastSave := start
	smoothed := math.NaN()
	var runErr error
	diverged := false
	for res.Step < res.TotalSteps {
		if ctx.Err() != nil {
			runErr = fmt.Errorf("training stopped at step %d: %w", res.Step, ctx.Err())
			break
		}
		b, ok := <-batches
		if !ok { // The producer stops early only when ctx is cancelled.
			runErr = fmt.Errorf("training stopped at step %d: %w", res.Step, ctx.Err())
			break
		}
		if b.err != nil {
			runErr = b.err
			break
		}
		values, err := trainStep(trainer, b.batch, len(names))
		if err != nil {
			runErr = fmt.Errorf("step %d: %w", res.Step, err)
			break
		}
		if math.IsNaN(values[0]) || math.IsInf(values[0], 0) {
			// The weights are now spoilt: stop without a checkpoint, the last one stays good.
			runErr = fmt.Errorf("step %d: loss is %v; resume from the last checkpoint with a lower learning rate", res.Step, values[0])
			diverged = true
			break
		}
		res.Step++
		res.StepsRun++
		if math.IsNaN(smoothed) {
			smoothed = values[0]
		}
		smoothed = 0.95*smoothed + 0.05*values[0]
		win.add(res, values)
		if bar != nil {
			bar.Describe(fmt.Sprintf("%s epoch %d step %d/%d loss %.4f", cfg.Name,
				(res.Step-1)/res.StepsPerEpoch+1, res.Step, res.TotalSteps, smoothed))
			_ = bar.Set(res.StepsRun)
		}
		if ckpt != nil && time.Since(lastSave) >= cfg.CheckpointEvery && res.Step < res.TotalSteps {
			res.Elapsed = time.Since(start)
			res.TotalElapsed = before + res.Elapsed
			if err := save(ckpt, cfg, res); err != nil {
				runErr = err
				break
			}
			lastSave = time.Now()
		}
	}
	res.Elapsed = time.Since(start)
	res.TotalElapsed = before + res.Elapsed
	if bar != nil {
		_ = bar.Exit()
		fmt.Fprintln(cfg.Progress)
	}
	win.flush(res)
	if ckpt != nil && res.StepsRun > 0 && !diverged {
		if err := save(ckpt, cfg, res); err != nil {
			return res, errors.Join(runErr, err)
		}
	}
	return res, runErr
}

// scheduled wraps modelFn so that each training graph also updates the learning rate: a linear
// warm-up then one cosine period down to the minimum at the last step. The schedule keeps its own
// step counter in the store, so a resumed run continues it.
func scheduled(modelFn ModelFn, cfg Config, total int) ModelFn {
	return func(scope *model.Scope, spec any, inputs []*graph.Node) []*graph.Node {
		warmup := min(cfg.WarmupSteps, max(total-1, 0))
		cosineschedule.New(scope, inputs[0].Graph(), dtypes.Float32).
			LearningRate(cfg.LearningRate).
			MinLearningRate(cfg.MinLearningRate).
			WarmUpSteps(warmup).
			PeriodSteps(max(total-warmup, 1)).
			Done()
		return modelFn(scope, spec, inputs)
	}
}

// trainStep runs one step and returns the loss and the extra metrics as numbers. GoMLX panics on
// graph-building errors; they become errors here.
func trainStep(trainer *gtrain.Trainer, batch gtrain.Batch, numValues int) ([]float64, error) {
	var metrics []*tensors.Tensor
	err := exceptions.TryCatch[error](func() {
		var err error
		metrics, err = trainer.TrainStep(batch)
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, err
	}
	// Trainer metrics: batch loss, its moving average, then Config.Metrics.
	values := make([]float64, 0, numValues)
	for i, m := range metrics {
		if i != 1 {
			values = append(values, shapes.ConvertTo[float64](m.Value()))
		}
		_ = m.FinalizeAll()
	}
	return values, nil
}

type prefetched struct {
	batch gtrain.Batch
	err   error
}

// prefetch builds the batches of steps [from, to) in a goroutine, one step ahead of training. The
// examples of epoch e are a permutation seeded by (seed, e); the augmentation of step s draws
// from a generator seeded by (seed, s): neither depends on where a run started.
func prefetch(ctx context.Context, src Source, cfg Config, stepsPerEpoch, from, to int) <-chan prefetched {
	out := make(chan prefetched, 1)
	go func() {
		defer close(out)
		perm, permEpoch := []int(nil), -1
		for step := from; step < to; step++ {
			if epoch := step / stepsPerEpoch; epoch != permEpoch {
				perm = rand.New(rand.NewPCG(cfg.Seed, uint64(epoch))).Perm(src.Len())
				permEpoch = epoch
			}
			pos := step % stepsPerEpoch * cfg.BatchSize
			rng := rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(step)))
			inputs, labels, err := src.Batch(perm[pos:pos+cfg.BatchSize], rng)
			if err != nil {
				err = fmt.Errorf("building the batch of step %d: %w", step, err)
			}
			select {
			case out <- prefetched{gtrain.Batch{Inputs: inputs, Labels: labels}, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// newBar draws the progress of this run's steps (a resumed run's bar starts empty, so that its
// rate and ETA are right); the description shows the global step and the smoothed loss.
func newBar(cfg Config, res *Result) *progressbar.ProgressBar {
	if cfg.Progress == nil {
		return nil
	}
	return progressbar.NewOptions(max(res.TotalSteps-res.Step, 0),
		progressbar.OptionSetWriter(cfg.Progress),
		progressbar.OptionSetDescription(fmt.Sprintf("%s step %d/%d", cfg.Name, res.Step, res.TotalSteps)),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetItsString("steps"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)
}

// window averages the per-step values of each curve over a fixed number of steps.
type window struct {
	names []string
	every int
	sums  []float64
	count int
}

func newWindow(names []string, every int) *window {
	return &window{names: names, every: every, sums: make([]float64, len(names))}
}

func (w *window) add(res *Result, values []float64) {
	for i := range w.sums {
		w.sums[i] += values[i]
	}
	w.count++
	if w.count >= w.every {
		w.flush(res)
	}
}

func (w *window) flush(res *Result) {
	if w.count == 0 {
		return
	}
	for i, name := range w.names {
		res.Curves[name] = append(res.Curves[name], Point{Step: res.Step, Value: w.sums[i] / float64(w.count)})
		w.sums[i] = 0
	}
	w.count = 0
}

// openCheckpoints returns the checkpoint handler of dir, loaded from its last checkpoint when
// resuming. A fresh run first removes the checkpoints and curves of an earlier one.
func openCheckpoints(store *model.Store, dir string, resume bool) (*checkpoint.Handler, error) {
	if resume {
		if !hasCheckpoint(dir) {
			return nil, fmt.Errorf("%w in %s", ErrNoCheckpoint, dir)
		}
	} else if err := removeState(dir); err != nil {
		return nil, err
	}
	var h *checkpoint.Handler
	err := exceptions.TryCatch[error](func() {
		var err error
		h, err = checkpoint.Build(store).Dir(dir).Keep(2).Done()
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("opening checkpoints in %s: %w", dir, err)
	}
	return h, nil
}

// hasCheckpoint reports whether dir holds a checkpoint to resume from.
func hasCheckpoint(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*"+checkpoint.JsonNameSuffix))
	return len(matches) > 0
}

// removeState deletes what a run writes in dir (checkpoints and curves), and nothing else.
func removeState(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "checkpoint-") || name == CurvesJSON || name == CurvesPNG {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("removing the earlier run's state: %w", err)
			}
		}
	}
	return nil
}

// save writes a checkpoint and the curves.
func save(h *checkpoint.Handler, cfg Config, res *Result) error {
	err := exceptions.TryCatch[error](func() {
		if err := h.Save(); err != nil {
			panic(err)
		}
	})
	if err != nil {
		return fmt.Errorf("saving checkpoint at step %d in %s: %w", res.Step, cfg.Dir, err)
	}
	return writeHistory(cfg.Dir, cfg.Name, history{Seconds: res.TotalElapsed.Seconds(), Curves: res.Curves})
}
