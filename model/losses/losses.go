// Package losses holds the training losses of atelier's networks as GoMLX graph functions: landmark
// regression and visibility, category cross-entropy, FashionNet's multi-label ranking loss, weighted
// binary cross-entropy for imbalanced attributes, and the identity triplet loss with hard or random
// negatives. Every loss returns a scalar and ignores unknown labels: a batch with no known label
// gives 0, not NaN.
package losses

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // the graph DSL reads best unqualified.
)

// Norm selects the distance used by the landmark regression loss.
type Norm int

// The landmark regression norms.
const (
	// L2 is the squared Euclidean distance, dx² + dy².
	L2 Norm = iota
	// L1 is |dx| + |dy|.
	L1
)

// safeMean divides a sum by a count, returning 0 where the count is 0.
func safeMean(sum, count *Node) *Node {
	return Div(sum, MaxScalar(count, 1.0))
}

// Landmarks is the regression loss on labeled landmarks only. pred and target are [B, L, 2]
// coordinates (normalised to the image size by the caller); labeled is [B, L], 1 where the slot is
// labeled and 0 elsewhere, in pred's dtype. It is the mean over labeled landmarks of the per-landmark
// distance chosen by norm.
func Landmarks(pred, target, labeled *Node, norm Norm) *Node {
	diff := Sub(pred, target)
	var perLandmark *Node
	switch norm {
	case L1:
		perLandmark = ReduceSum(Abs(diff), -1)
	default:
		perLandmark = ReduceSum(Square(diff), -1)
	}
	return safeMean(ReduceAllSum(Mul(perLandmark, labeled)), ReduceAllSum(labeled))
}

// maskedCrossEntropy is the softmax cross-entropy of logits [..., C] against integer class indices
// [...], averaged over the entries whose weight [...] is 1; entries with weight 0 (whatever their
// label) do not count.
func maskedCrossEntropy(logits, labels, weight *Node) *Node {
	numClasses := logits.Shape().Dim(-1)
	safeLabels := MaxScalar(labels, 0) // negative (unknown) labels only need a valid index; weight is 0.
	oneHot := OneHot(safeLabels, numClasses, logits.DType())
	nll := Neg(ReduceSum(Mul(oneHot, LogSoftmax(logits)), -1))
	return safeMean(ReduceAllSum(Mul(nll, weight)), ReduceAllSum(weight))
}

// Visibility is the cross-entropy of the landmark visibility classifier: logits [B, L, V], classes
// [B, L] integer visibility classes in 0..V-1, labeled [B, L] as for Landmarks. Unlabeled slots are
// ignored.
func Visibility(logits, classes, labeled *Node) *Node {
	return maskedCrossEntropy(logits, classes, labeled)
}

// Category is the softmax cross-entropy of logits [B, C] against labels [B]: 0-based class indices,
// negative for unknown (ignored).
func Category(logits, labels *Node) *Node {
	known := ConvertDType(GreaterOrEqual(labels, ScalarZero(labels.Graph(), labels.DType())), logits.DType())
	return maskedCrossEntropy(logits, labels, known)
}

// signMasks splits attribute labels [B, A] (+1 positive, -1 negative, 0 unknown, in scores' dtype)
// into 0/1 masks of positives and negatives.
func signMasks(labels *Node) (pos, neg *Node) {
	zero := ScalarZero(labels.Graph(), labels.DType())
	pos = ConvertDType(GreaterThan(labels, zero), labels.DType())
	neg = ConvertDType(LessThan(labels, zero), labels.DType())
	return pos, neg
}

// Ranking is FashionNet's multi-label ranking loss on attribute scores f [B, A] with labels [B, A]
// (+1 positive, -1 negative, 0 unknown, in scores' dtype):
//
//	J = sum_i sum_{j in pos(i)} sum_{k in neg(i)} max(0, 1 - f_j(x_i) + f_k(x_i))
//
// divided by the number of (i, j, k) pairs, so that its scale does not depend on the batch or on how
// many labels are known. It builds a [B, A, A] tensor: with A attributes it costs B·A² memory.
func Ranking(scores, labels *Node) *Node {
	pos, neg := signMasks(labels)
	// margin[i, j, k] = 1 - f_j + f_k, for j a positive and k a negative of example i.
	margin := OneMinus(Sub(InsertAxes(scores, -1), InsertAxes(scores, 1)))
	pairs := Mul(InsertAxes(pos, -1), InsertAxes(neg, 1))
	hinge := MaxScalar(margin, 0.0)
	return safeMean(ReduceAllSum(Mul(hinge, pairs)), ReduceAllSum(pairs))
}

// WeightedBCE is the binary cross-entropy of attribute logits [B, A] with labels [B, A] (+1, -1,
// 0 unknown, in logits' dtype), each known label weighted by posWeight [A] or negWeight [A] (see
// AttributeWeights), averaged over the known labels.
func WeightedBCE(logits, labels, posWeight, negWeight *Node) *Node {
	pos, neg := signMasks(labels)
	// Stable BCE with logits: softplus(x) - y·x.
	bce := Sub(Softplus(logits), Mul(pos, logits))
	weight := Add(Mul(pos, InsertAxes(posWeight, 0)), Mul(neg, InsertAxes(negWeight, 0)))
	return safeMean(ReduceAllSum(Mul(bce, weight)), ReduceAllSum(Add(pos, neg)))
}

// MaxAttributeWeight caps the weights of AttributeWeights so that an attribute seen positive a
// handful of times cannot dominate the loss.
const MaxAttributeWeight = 100

// AttributeWeights derives the per-attribute weights of WeightedBCE from label frequencies: labels
// holds one row per example (+1, -1, 0 unknown, as in dataset.Garment.Attributes). With n known
// labels of which p are positive, positives get n/(2p) and negatives n/(2(n-p)), so both classes
// weigh the same in total ("balanced" weighting), capped at MaxAttributeWeight. An attribute with
// no positive (or no negative) example gets weight 0 for that class.
func AttributeWeights(labels [][]int8, numAttributes int) (pos, neg []float32) {
	nPos, nNeg := labelCounts(labels, numAttributes)
	balanced := func(n, count float64) float32 {
		if count == 0 {
			return 0
		}
		return float32(min(n/(2*count), MaxAttributeWeight))
	}
	pos = make([]float32, numAttributes)
	neg = make([]float32, numAttributes)
	for a := range numAttributes {
		n := nPos[a] + nNeg[a]
		pos[a] = balanced(n, nPos[a])
		neg[a] = balanced(n, nNeg[a])
	}
	return pos, neg
}

// AttributePriors returns each attribute's share of positives among its known labels (rows as
// in AttributeWeights), with one pseudo-count of each sign so that no prior is 0 or 1.
func AttributePriors(labels [][]int8, numAttributes int) []float32 {
	nPos, nNeg := labelCounts(labels, numAttributes)
	prior := make([]float32, numAttributes)
	for a := range prior {
		prior[a] = float32((nPos[a] + 1) / (nPos[a] + nNeg[a] + 2))
	}
	return prior
}

// labelCounts counts the positive and negative labels of each attribute.
func labelCounts(labels [][]int8, numAttributes int) (nPos, nNeg []float64) {
	nPos = make([]float64, numAttributes)
	nNeg = make([]float64, numAttributes)
	for _, row := range labels {
		for a, v := range row[:min(len(row), numAttributes)] {
			switch {
			case v > 0:
				nPos[a]++
			case v < 0:
				nNeg[a]++
			}
		}
	}
	return nPos, nNeg
}

// pairwiseL2 returns the [B, B] Euclidean distances between the rows of emb [B, D]. The square root
// is taken of max(d², eps) so that its gradient stays finite on the diagonal and between duplicates.
func pairwiseL2(emb *Node) *Node {
	dot := MatMul(emb, Transpose(emb, 0, 1))
	sq := ReduceSum(Square(emb), -1)
	d2 := Add(Sub(InsertAxes(sq, -1), MulScalar(dot, 2.0)), InsertAxes(sq, 0))
	return Sqrt(MaxScalar(d2, 1e-12))
}

// Triplet is the identity triplet loss within a batch built as P items × K views: emb [B, D] are
// the embeddings, ids [B] integer item ids. Each anchor takes its hardest positive (the farthest
// view of the same item) and a negative (another item's view): the hardest one (the closest) when
// noise is nil, or else the one where noise [B, B] (uniform random values, e.g. from
// model.Scope.RandomUniform) is largest, a random negative for ablation. The loss is the mean over
// anchors that have both a positive and a negative of max(0, d(a, p) - d(a, n) + margin).
func Triplet(emb, ids *Node, margin float64, noise *Node) *Node {
	g := emb.Graph()
	dtype := emb.DType()
	batch := emb.Shape().Dim(0)
	dist := pairwiseL2(emb)

	sameID := Equal(InsertAxes(ids, -1), InsertAxes(ids, 0))
	notSelf := LogicalNot(DiagonalWithValue(Const(g, true), batch))
	posMask := LogicalAnd(sameID, notSelf)
	negMask := LogicalNot(sameID)

	zero := ScalarZero(g, dtype)
	hardestPos := ReduceMax(Where(posMask, dist, BroadcastToDims(zero, batch, batch)), -1)
	var negDist *Node
	if noise == nil {
		far := BroadcastToDims(Scalar(g, dtype, 1e9), batch, batch)
		negDist = ReduceMin(Where(negMask, dist, far), -1)
	} else {
		low := BroadcastToDims(Scalar(g, noise.DType(), -1), batch, batch)
		pick := OneHot(ArgMax(Where(negMask, noise, low), -1), batch, dtype)
		negDist = ReduceSum(Mul(dist, pick), -1)
	}
	valid := ConvertDType(LogicalAnd(LogicalAny(posMask, -1), LogicalAny(negMask, -1)), dtype)
	perAnchor := MaxScalar(AddScalar(Sub(hardestPos, negDist), margin), 0.0)
	return safeMean(ReduceAllSum(Mul(perAnchor, valid)), ReduceAllSum(valid))
}
