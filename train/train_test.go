package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/metric"

	"github.com/atelier-ml/atelier/model/losses"
)

// quadrants is a toy task: the class of a 2-D point is its quadrant. Batch adds a little noise
// from rng, like an augmentation, so that determinism covers the augmentation stream too.
type quadrants struct {
	points [][2]float32
	// onBatch, when set, is called with the number of batches asked for so far.
	onBatch func(n int)
	asked   int
	// nanAt, when > 0, makes the nanAt-th batch hold a NaN.
	nanAt int
}

func newQuadrants(n int) *quadrants {
	rng := rand.New(rand.NewPCG(7, 7))
	q := &quadrants{points: make([][2]float32, n)}
	for i := range q.points {
		q.points[i] = [2]float32{rng.Float32()*2 - 1, rng.Float32()*2 - 1}
	}
	return q
}

func (q *quadrants) Len() int { return len(q.points) }

func (q *quadrants) Batch(idx []int, rng *rand.Rand) ([]*tensors.Tensor, []*tensors.Tensor, error) {
	q.asked++
	if q.onBatch != nil {
		q.onBatch(q.asked)
	}
	x := make([][]float32, len(idx))
	y := make([]int32, len(idx))
	for i, j := range idx {
		p := q.points[j]
		x[i] = []float32{p[0] + 0.01*float32(rng.NormFloat64()), p[1] + 0.01*float32(rng.NormFloat64())}
		if p[0] > 0 {
			y[i] = 1
		}
		if p[1] > 0 {
			y[i] += 2
		}
	}
	if q.asked == q.nanAt {
		x[0][0] = float32(math.NaN())
	}
	return []*tensors.Tensor{tensors.FromValue(x)}, []*tensors.Tensor{tensors.FromValue(y)}, nil
}

func mlp(scope *model.Scope, _ any, inputs []*graph.Node) []*graph.Node {
	h := activation.Relu(layers.DenseWithBias(scope.In("hidden"), inputs[0], 16))
	return []*graph.Node{layers.DenseWithBias(scope.In("out"), h, 4)}
}

func categoryLoss(labels, predictions []*graph.Node) *graph.Node {
	return losses.Category(predictions[0], labels[0])
}

func goBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testConfig(dir string) Config {
	return Config{Name: "test", BatchSize: 16, Steps: 48, LearningRate: 0.02, WarmupSteps: 4, Seed: 3, Dir: dir, CurvePoints: 12}
}

func TestLossDecreases(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	// An extra metric, as multi-task losses report their terms: the mean squared logit.
	cfg.Metrics = []metric.Interface{metric.NewBaseMetric("Squared logits", "sq", metric.LossMetricType,
		func(_ *model.Scope, _, predictions []*graph.Node) *graph.Node {
			return graph.ReduceAllMean(graph.Square(predictions[0]))
		}, nil)}
	store := InitStore(3)
	res, err := Run(context.Background(), goBackend(t), store, mlp, categoryLoss, newQuadrants(256), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The last step ran at cosine step 47: 43 steps after the warm-up into a period of 44, so
	// lr = 0.02 * (1 + cos(pi*43/44)) / 2.
	lrVar := store.GetVariable("/optimizers/learning_rate")
	if lrVar == nil {
		t.Fatal("no learning rate variable")
	}
	wantLR := 0.02 * (1 + math.Cos(math.Pi*43/44)) / 2
	if lr := float64(tensors.ToScalar[float32](lrVar.MustValue())); math.Abs(lr-wantLR) > 1e-7 {
		t.Errorf("final learning rate %g, want %g", lr, wantLR)
	}
	if res.Step != 48 || res.StepsRun != 48 || res.StepsPerEpoch != 16 {
		t.Fatalf("step %d, run %d, per epoch %d; want 48, 48, 16", res.Step, res.StepsRun, res.StepsPerEpoch)
	}
	curve := res.Curves["loss"]
	if len(curve) != 12 {
		t.Fatalf("loss curve has %d points, want 12", len(curve))
	}
	if sq := res.Curves["sq"]; len(sq) != len(curve) || sq[len(sq)-1].Value <= 0 {
		t.Errorf("metric curve %v", sq)
	}
	first, last := curve[0].Value, curve[len(curve)-1].Value
	if !(last < 0.6*first) {
		t.Errorf("loss went from %.4f to %.4f, want a clear decrease", first, last)
	}
	for _, name := range []string{CurvesJSON, CurvesPNG} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", name, err)
		}
	}
}

// TestResume interrupts a run, resumes it, and checks that it ends exactly where an uninterrupted
// run ends: same step, same weights, same optimizer state, continuous curves.
func TestResume(t *testing.T) {
	backend := goBackend(t)
	straight := InitStore(3)
	want, err := Run(context.Background(), backend, straight, mlp, categoryLoss, newQuadrants(256), testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	src := newQuadrants(256)
	src.onBatch = func(n int) {
		if n == 20 {
			cancel()
		}
	}
	part, err := Run(ctx, backend, InitStore(3), mlp, categoryLoss, src, testConfig(dir))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	if part.Step == 0 || part.Step >= 48 {
		t.Fatalf("interrupted run stopped at step %d", part.Step)
	}

	cfg := testConfig(dir)
	cfg.Resume = true
	resumed := InitStore(3)
	got, err := Run(context.Background(), backend, resumed, mlp, categoryLoss, newQuadrants(256), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 48 || got.StepsRun != 48-part.Step {
		t.Fatalf("resumed run: step %d after %d steps, want 48 after %d", got.Step, got.StepsRun, 48-part.Step)
	}
	if got.TotalElapsed <= got.Elapsed {
		t.Errorf("resumed run's total time %v does not count the interrupted part (its own: %v)", got.TotalElapsed, got.Elapsed)
	}
	compared := 0
	for v := range straight.IterVariables() {
		if v.Name() == model.RNGStateVariableName || strings.HasPrefix(v.Path(), "/metrics/") {
			continue // Per-run state: the RNG is unused here; metric names carry a random id.
		}
		w := resumed.GetVariable(v.Path())
		if w == nil {
			t.Errorf("variable %s missing after resume", v.Path())
			continue
		}
		a, b := v.MustValue(), w.MustValue()
		if !a.Equal(b) {
			t.Errorf("variable %s differs after resume:\n%s\nvs\n%s", v.Path(), a, b)
		}
		compared++
	}
	t.Logf("interrupted at step %d; %d variables identical after resuming", part.Step, compared)
	if compared < 5 { // 2 dense layers (4), global step, Adam moments...
		t.Errorf("compared only %d variables", compared)
	}
	steps := func(pts []Point) []int {
		var s []int
		for _, p := range pts {
			s = append(s, p.Step)
		}
		return s
	}
	if !slices.IsSorted(steps(got.Curves["loss"])) || got.Curves["loss"][len(got.Curves["loss"])-1].Step != 48 {
		t.Errorf("resumed loss curve steps %v", steps(got.Curves["loss"]))
	}
	if len(want.Curves["loss"]) == 0 {
		t.Error("straight run has no curve")
	}
}

// TestInit fine-tunes: a run whose Init copies a trained run's network starts where that one
// ended, with the optimizer and the schedule fresh, and an Init that fails stops the run.
func TestInit(t *testing.T) {
	backend := goBackend(t)
	trained := InitStore(3)
	first, err := Run(context.Background(), backend, trained, mlp, categoryLoss, newQuadrants(256), testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t.TempDir())
	cfg.Seed = 4
	cfg.Init = func(store *model.Store) error {
		for v := range trained.IterVariables() {
			if strings.HasPrefix(v.Path(), "/hidden/") || strings.HasPrefix(v.Path(), "/out/") {
				value, err := v.MustValue().Clone()
				if err != nil {
					return err
				}
				if _, err := store.CreateVariable(v.Path(), value); err != nil {
					return err
				}
			}
		}
		return nil
	}
	tuned, err := Run(context.Background(), backend, InitStore(4), mlp, categoryLoss, newQuadrants(256), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tuned.Step != 48 {
		t.Errorf("fine-tuning ran to step %d, want 48 (a fresh global step)", tuned.Step)
	}
	start, fresh := tuned.Curves["loss"][0].Value, first.Curves["loss"][0].Value
	if !(start < 0.6*fresh) {
		t.Errorf("fine-tuning's first loss %.4f, want well below a fresh run's %.4f", start, fresh)
	}

	cfg.Init = func(*model.Store) error { return errors.New("no such bundle") }
	if _, err := Run(context.Background(), backend, InitStore(4), mlp, categoryLoss, newQuadrants(256), cfg); err == nil || !strings.Contains(err.Error(), "no such bundle") {
		t.Errorf("failing Init: err = %v", err)
	}
}

// TestDivergence checks that a NaN loss stops the run without checkpointing spoilt weights.
func TestDivergence(t *testing.T) {
	dir := t.TempDir()
	src := newQuadrants(256)
	src.nanAt = 10
	res, err := Run(context.Background(), goBackend(t), InitStore(3), mlp, categoryLoss, src, testConfig(dir))
	if err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("err = %v, want a NaN loss", err)
	}
	if res != nil && res.Step != 9 {
		t.Errorf("stopped at step %d, want 9", res.Step)
	}
	if hasCheckpoint(dir) {
		t.Error("a checkpoint was written after the loss diverged")
	}
}

func TestResumeWithoutCheckpoint(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Resume = true
	if _, err := Run(context.Background(), goBackend(t), InitStore(3), mlp, categoryLoss, newQuadrants(64), cfg); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("resume from an empty directory: err = %v, want ErrNoCheckpoint", err)
	}
}
