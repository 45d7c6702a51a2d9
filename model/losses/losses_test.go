package losses

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/train/loss"
)

func backend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eval runs fn on the inputs and returns its scalar result.
func eval(t *testing.T, b compute.Backend, fn func(in []*Node) *Node, inputs ...any) float64 {
	t.Helper()
	out, err := CallOnce(b, fn, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return float64(tensors.ToScalar[float32](out))
}

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-5 {
		t.Errorf("%s = %.6f, want %.6f", name, got, want)
	}
}

func TestLandmarks(t *testing.T) {
	b := backend(t)
	pred := [][][]float32{{{0, 0}, {1, 1}, {5, 5}}}
	target := [][][]float32{{{1, 0}, {1, 3}, {0, 0}}}
	for _, tc := range []struct {
		name    string
		norm    Norm
		labeled [][]float32
		want    float64
	}{
		{"l2", L2, [][]float32{{1, 1, 0}}, (1.0 + 4.0) / 2},
		{"l1", L1, [][]float32{{1, 1, 0}}, (1.0 + 2.0) / 2},
		{"none labeled", L2, [][]float32{{0, 0, 0}}, 0},
	} {
		got := eval(t, b, func(in []*Node) *Node { return Landmarks(in[0], in[1], in[2], tc.norm) }, pred, target, tc.labeled)
		near(t, tc.name, got, tc.want)
	}
}

func TestVisibilityAndCategory(t *testing.T) {
	b := backend(t)
	ln := math.Log
	// Softmax of [ln 3, 0] is [3/4, 1/4]; of [0, 0] it is [1/2, 1/2].
	visLogits := [][][]float32{{{0, 0}, {float32(ln(3)), 0}}}
	vis := func(classes [][]int32, labeled [][]float32) float64 {
		return eval(t, b, func(in []*Node) *Node { return Visibility(in[0], in[1], in[2]) }, visLogits, classes, labeled)
	}
	near(t, "visibility both", vis([][]int32{{0, 1}}, [][]float32{{1, 1}}), (ln(2)+ln(4))/2)
	near(t, "visibility first", vis([][]int32{{0, 1}}, [][]float32{{1, 0}}), ln(2))

	catLogits := [][]float32{{0, 0, 0}, {float32(ln(2)), 0, 0}}
	cat := func(labels []int32) float64 {
		return eval(t, b, func(in []*Node) *Node { return Category(in[0], in[1]) }, catLogits, labels)
	}
	near(t, "category unknown ignored", cat([]int32{2, -1}), ln(3))
	near(t, "category both", cat([]int32{0, 0}), (ln(3)+ln(2))/2)
	near(t, "category all unknown", cat([]int32{-1, -1}), 0)
}

func TestRanking(t *testing.T) {
	b := backend(t)
	scores := [][]float32{{2, 0.5, 0, 1}, {0, 0, 0, 0}}
	// Example 0: pairs (0,2) -> max(0, 1-2+0) = 0 and (1,2) -> 0.5. Example 1: pair (3,1) -> 1.
	labels := [][]float32{{1, 1, -1, 0}, {0, -1, 0, 1}}
	got := eval(t, b, func(in []*Node) *Node { return Ranking(in[0], in[1]) }, scores, labels)
	near(t, "ranking", got, (0+0.5+1)/3)
	got = eval(t, b, func(in []*Node) *Node { return Ranking(in[0], in[1]) }, scores, [][]float32{{1, 0, 0, 0}, {0, 0, 0, 0}})
	near(t, "ranking without pairs", got, 0)
}

func TestWeightedBCE(t *testing.T) {
	b := backend(t)
	// BCE at logit 0 is ln 2 for either class; the third label is unknown.
	got := eval(t, b, func(in []*Node) *Node { return WeightedBCE(in[0], in[1], in[2], in[3]) },
		[][]float32{{0, 0, 5}}, [][]float32{{1, -1, 0}}, []float32{2, 1, 7}, []float32{1, 3, 7})
	near(t, "weighted bce", got, (2*math.Ln2+3*math.Ln2)/2)
}

func TestAttributeWeights(t *testing.T) {
	labels := [][]int8{{1, -1}, {-1, -1}, {-1, 0}, {-1, -1}}
	pos, neg := AttributeWeights(labels, 2)
	// Attribute 0: 4 known, 1 positive. Attribute 1: 3 known, all negative.
	want := [][2]float32{{4.0 / 2, 4.0 / 6}, {0, 3.0 / 6}}
	for a := range want {
		if math.Abs(float64(pos[a]-want[a][0])) > 1e-6 || math.Abs(float64(neg[a]-want[a][1])) > 1e-6 {
			t.Errorf("attribute %d: weights (%v, %v), want %v", a, pos[a], neg[a], want[a])
		}
	}
}

func TestAttributePriors(t *testing.T) {
	labels := [][]int8{{1, -1}, {-1, -1}, {-1, 0}, {-1, -1}}
	// Attribute 0: 1 positive of 4 known -> (1+1)/(4+2); attribute 1: 0 of 3 -> 1/5.
	got := AttributePriors(labels, 2)
	for a, want := range []float64{2.0 / 6, 1.0 / 5} {
		if math.Abs(float64(got[a])-want) > 1e-6 {
			t.Errorf("attribute %d: prior %v, want %v", a, got[a], want)
		}
	}
}

func TestTriplet(t *testing.T) {
	b := backend(t)
	// Points on a line at 0, 1, 3, 3.5 (items 0, 0, 1, 1) and 10 (item 2, no positive: not an anchor).
	emb := [][]float32{{0, 0}, {1, 0}, {3, 0}, {3.5, 0}, {10, 0}}
	ids := []int32{0, 0, 1, 1, 2}
	// Hard: anchor 0: max(0, 1-3+2)=0; 1: 1-2+2=1; 2: 0.5-2+2=0.5; 3: 0.5-2.5+2=0.
	hard := eval(t, b, func(in []*Node) *Node { return Triplet(in[0], in[1], 2, nil) }, emb, ids)
	near(t, "hard", hard, 1.5/4)

	// gomlx's batch-hard triplet loss agrees on the four anchors that have a positive.
	ref := eval(t, b, func(in []*Node) *Node {
		return loss.TripletLoss([]*Node{in[1]}, []*Node{in[0]}, loss.TripletMiningStrategyHard, 2, loss.PairwiseDistanceMetricL2)
	}, emb[:4], ids[:4])
	near(t, "gomlx hard", ref, 1.5/4)

	// Random: the noise picks negatives 3, 3, 0, 1 for anchors 0..3 (and 0 for anchor 4).
	noise := [][]float32{
		{0, 0, 0.1, 0.9, 0},
		{0, 0, 0.1, 0.9, 0},
		{0.9, 0.1, 0, 0, 0},
		{0, 0.9, 0, 0, 0},
		{0.9, 0, 0, 0, 0},
	}
	// Anchor 0: 1-3.5+2=0 -> 0; 1: 1-2.5+2=0.5; 2: 0.5-3+2 -> 0; 3: 0.5-2.5+2=0.
	random := eval(t, b, func(in []*Node) *Node { return Triplet(in[0], in[1], 2, in[2]) }, emb, ids, noise)
	near(t, "random", random, 0.5/4)
}

func TestTripletGradientFinite(t *testing.T) {
	b := backend(t)
	// Duplicated embeddings have distance 0, where a plain sqrt has an infinite gradient.
	emb := [][]float32{{1, 0}, {1, 0}, {0, 1}, {0, 1}}
	ids := []int32{0, 0, 1, 1}
	out, err := CallOnce(b, func(e, id *Node) *Node {
		return Gradient(Triplet(e, id, 0.5, nil), e)[0]
	}, emb, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range tensors.MustCopyFlatData[float32](out) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("gradient has %v", v)
		}
	}
}
