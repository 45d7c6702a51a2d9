package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// channelStats returns the mean and biased variance of each channel of channels-last data.
func channelStats(data []float32, c int) (mean, variance []float64) {
	mean, variance = make([]float64, c), make([]float64, c)
	n := float64(len(data) / c)
	for i, v := range data {
		mean[i%c] += float64(v) / n
	}
	for i, v := range data {
		d := float64(v) - mean[i%c]
		variance[i%c] += d * d / n
	}
	return mean, variance
}

func TestBatchNorm(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const c = 3
	xs := flat(randTensor(rng, 4, 3, 5, c))
	for i := range xs {
		xs[i] = xs[i]*float32(1+i%c) + float32(i%c) // per-channel spread and offset
	}
	x := tensors.FromFlatDataAndDimensions(xs, 4, 3, 5, c)
	n := float64(len(xs) / c)
	mean, variance := channelStats(xs, c)

	store := model.NewStore()
	run := func(training bool) []float32 {
		exec, err := model.NewExec(backend, store, func(scope *model.Scope, x *Node) *Node {
			scope.Store().SetTraining(x.Graph(), training)
			return BatchNorm(scope, x)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Call1(x)
		if err != nil {
			t.Fatal(err)
		}
		return flat(out)
	}

	// Training: normalized with the batch statistics, whatever the running ones.
	gotMean, gotVar := channelStats(run(true), c)
	for ch := range c {
		if math.Abs(gotMean[ch]) > 1e-5 || math.Abs(gotVar[ch]-variance[ch]/(variance[ch]+BatchNormEpsilon)) > 1e-4 {
			t.Errorf("training output channel %d: mean %g, variance %g; want 0 and ~1", ch, gotMean[ch], gotVar[ch])
		}
	}
	// The running statistics moved by the momentum from (0, 1) towards the batch's, with the
	// unbiased variance.
	runMean := flat(store.GetVariable("/batch_norm/mean").MustValue())
	runVar := flat(store.GetVariable("/batch_norm/variance").MustValue())
	for ch := range c {
		wantMean := BatchNormMomentum * mean[ch]
		wantVar := 1 - BatchNormMomentum + BatchNormMomentum*variance[ch]*n/(n-1)
		if math.Abs(float64(runMean[ch])-wantMean) > 1e-5 || math.Abs(float64(runVar[ch])-wantVar) > 1e-5 {
			t.Errorf("running stats channel %d: (%g, %g), want (%g, %g)", ch, runMean[ch], runVar[ch], wantMean, wantVar)
		}
	}
	// Inference: normalized with the running statistics, which it leaves alone.
	got := run(false)
	for i, v := range got {
		ch := i % c
		want := (float64(xs[i]) - float64(runMean[ch])) / math.Sqrt(float64(runVar[ch])+BatchNormEpsilon)
		if math.Abs(float64(v)-want) > 1e-4 {
			t.Fatalf("inference output %d = %g, want %g", i, v, want)
		}
	}
	if after := flat(store.GetVariable("/batch_norm/mean").MustValue()); maxAbsDiff(t, after, runMean) != 0 {
		t.Errorf("inference changed the running mean: %v -> %v", runMean, after)
	}
}

func TestGroupAndLayerNorm(t *testing.T) {
	backend := testBackend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	x := randTensor(rng, 2, 3, 4, 6)
	tests := []struct {
		name   string
		norm   func(*model.Scope, *Node) *Node
		groups int // channels normalized together: 6/groups
		overHW bool
	}{
		{"group", func(s *model.Scope, x *Node) *Node { return GroupNorm(s, x, 3) }, 3, true},
		{"layer", LayerNorm, 1, false},
	}
	for _, tc := range tests {
		out, err := model.CallOnce(backend, model.NewStore(), tc.norm, x)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ys := flat(out)
		// Collect each normalization set and check mean 0, variance ~1.
		sets := map[[3]int][]float64{}
		for i, v := range ys {
			ch, pos, b := i%6, (i/6)%12, i/72
			key := [3]int{b, ch / (6 / tc.groups), -1}
			if !tc.overHW {
				key[2] = pos
			}
			sets[key] = append(sets[key], float64(v))
		}
		for key, vs := range sets {
			var m, v float64
			for _, y := range vs {
				m += y / float64(len(vs))
			}
			for _, y := range vs {
				v += (y - m) * (y - m) / float64(len(vs))
			}
			if math.Abs(m) > 1e-5 || math.Abs(v-1) > 1e-3 {
				t.Errorf("%s norm set %v: mean %g variance %g, want 0 and 1", tc.name, key, m, v)
			}
		}
	}
}

// TestBatchNormGradient checks the training gradients of BatchNorm (written out, with sums as
// matrix multiplications) with respect to x, scale and offset against GoMLX's derivation of the
// plain formula, with a scale other than one.
func TestBatchNormGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x, w := randTensor(rng, 4, 3, 5, 6), randTensor(rng, 4, 3, 5, 6)
	store := model.NewStore()
	exec, err := model.NewExec(testBackend(t), store, func(scope *model.Scope, x, w *Node) []*Node {
		g := x.Graph()
		scope.Store().SetTraining(g, true)
		y := BatchNorm(scope, x)
		bn := scope.Shared("batch_norm")
		scale, offset := bn.GetVariable("scale").NodeValue(g), bn.GetVariable("offset").NodeValue(g)
		got := Gradient(ReduceAllSum(Mul(y, w)), x, scale, offset)

		mean := ReduceAndKeep(x, ReduceMean, 0, 1, 2)
		centered := Sub(x, mean)
		normalized := Div(centered, Sqrt(AddScalar(ReduceAndKeep(Square(centered), ReduceMean, 0, 1, 2), BatchNormEpsilon)))
		ref := Add(Mul(normalized, perChannel(scale, 4)), perChannel(offset, 4))
		return append(got, Gradient(ReduceAllSum(Mul(ref, w)), x, scale, offset)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Call(x, w); err != nil { // creates the variables
		t.Fatal(err)
	}
	if err := store.GetVariable("/batch_norm/scale").SetValue(tensors.FromValue([]float32{0.5, 1.5, -1, 2, 0.25, 1})); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Call(x, w)
	if err != nil {
		t.Fatal(err)
	}
	for i, what := range []string{"x", "scale", "offset"} {
		if d := maxAbsDiff(t, flat(out[i]), flat(out[i+3])); d > 1e-4 {
			t.Errorf("BatchNorm gradient of %s differs from the reference by %g", what, d)
		}
	}
}
