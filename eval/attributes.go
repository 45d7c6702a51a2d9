package eval

import (
	"fmt"

	"github.com/atelier-ml/atelier/fashion"
)

// RecallAtK holds the attribute top-3 and top-5 recall.
type RecallAtK struct {
	Top3 Value `json:"top3_recall"`
	Top5 Value `json:"top5_recall"`
}

// AttributeResult is the attributes section of `atelier eval fashionnet`.
//
// For each image, the attributes are ranked by score over the whole vocabulary, and a positive
// attribute (label +1) is recalled at k when it is among the k highest scored. Negative (-1) and
// unknown (0) labels play no part: recall counts positives only.
//
// Top3Recall, Top5Recall and ByType average over attributes, as the public FashionNet
// evaluation code does (open-mmlab/mmfashion, AttrCalculator.compute_one_recall): each
// attribute's recall is its recalled positives over its positives, pooled over the images, and
// the reported recall is the mean over the attributes that have at least one positive (of the
// attribute type, for ByType). mmfashion then averages only the 50 best attributes' recalls; that
// inflates the figure and is not done here.
//
// Pooled is the other common reading: all (image, positive attribute) pairs pooled, i.e.
// recalled positives over positives. PerImage averages each image's recalled share of its
// positives over the images that have any. PerAttribute gives the recalls that the mean is
// taken over, to find the attributes a model misses.
type AttributeResult struct {
	RecallAtK
	ByType       map[string]RecallAtK `json:"by_type"`
	Pooled       RecallAtK            `json:"pooled"`
	PerImage     RecallAtK            `json:"per_image"`
	PerAttribute []AttributeRecall    `json:"per_attribute"`
	// Images is the number of images with at least one positive attribute.
	Images int `json:"images"`
}

// AttributeRecall is one attribute's share of its positives recalled at k.
type AttributeRecall struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Positives int    `json:"positives"`
	RecallAtK
}

// attrKs are the k of the DeepFashion attribute protocol.
var attrKs = [2]int{3, 5}

// Attributes computes attribute top-k recall from one score row per image and its labels (+1, -1,
// 0 per attribute), for the vocabulary attrs (one per score column, in order).
func Attributes(scores [][]float32, labels [][]int8, attrs []fashion.Attribute) (AttributeResult, error) {
	if err := checkRows("attributes", len(scores), len(labels)); err != nil {
		return AttributeResult{}, err
	}
	na := len(attrs)
	pos := make([]int, na)
	var tp [2][]int
	tp[0], tp[1] = make([]int, na), make([]int, na)
	var pooledHit [2]int
	var perImage [2]float64
	pooledPos, images := 0, 0
	for i, row := range scores {
		if len(row) != na || len(labels[i]) != na {
			return AttributeResult{}, fmt.Errorf("attributes: image %d has %d scores and %d labels, want %d", i, len(row), len(labels[i]), na)
		}
		top := topIndices(row, attrKs[1])
		var hit [2]int
		npos := 0
		for a, l := range labels[i] {
			if l != 1 {
				continue
			}
			npos++
			pos[a]++
			for j, k := range attrKs {
				if contains(top[:min(k, len(top))], a) {
					tp[j][a]++
					hit[j]++
				}
			}
		}
		if npos == 0 {
			continue
		}
		images++
		pooledPos += npos
		for j := range attrKs {
			pooledHit[j] += hit[j]
			perImage[j] += float64(hit[j]) / float64(npos)
		}
	}
	res := AttributeResult{
		ByType: map[string]RecallAtK{},
		Pooled: recallOf(pooledHit[0], pooledHit[1], pooledPos),
		Images: images,
	}
	res.PerImage = RecallAtK{Top3: Value(perImage[0] / float64(images)), Top5: Value(perImage[1] / float64(images))}
	for a, at := range attrs {
		if pos[a] > 0 {
			res.PerAttribute = append(res.PerAttribute, AttributeRecall{at.Name, at.Type.String(), pos[a],
				recallOf(tp[0][a], tp[1][a], pos[a])})
		}
	}
	// The mean of the per-attribute recalls of the attributes of type t ("" for all).
	macro := func(t string) (RecallAtK, bool) {
		var sum [2]float64
		n := 0
		for _, r := range res.PerAttribute {
			if t == "" || r.Type == t {
				n++
				sum[0] += float64(r.Top3)
				sum[1] += float64(r.Top5)
			}
		}
		if n == 0 {
			return recallOf(0, 0, 0), false
		}
		return RecallAtK{Top3: Value(sum[0] / float64(n)), Top5: Value(sum[1] / float64(n))}, true
	}
	res.RecallAtK, _ = macro("")
	for _, t := range fashion.AttributeTypes {
		if r, ok := macro(t.String()); ok {
			res.ByType[t.String()] = r
		}
	}
	return res, nil
}

// recallOf is the recall of n positives of which hit3 are recalled at 3 and hit5 at 5 (NaN for
// none).
func recallOf(hit3, hit5, n int) RecallAtK {
	return RecallAtK{Top3: Value(ratio(hit3, n)), Top5: Value(ratio(hit5, n))}
}

// topIndices returns the indices of the k highest scores, best first, ties broken by lower index.
func topIndices(row []float32, k int) []int {
	top := make([]int, 0, k)
	for i, v := range row {
		// Find where i goes among the current best; later indices lose ties.
		p := len(top)
		for p > 0 && row[top[p-1]] < v {
			p--
		}
		if p >= k {
			continue
		}
		if len(top) < k {
			top = append(top, 0)
		}
		copy(top[p+1:], top[p:len(top)-1])
		top[p] = i
	}
	return top
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
