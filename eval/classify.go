package eval

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// TopKAccuracy returns, for each k in ks, the share of samples whose label is among the k
// highest scores of its row (ties broken by lower class index). labels are 0-based column
// indices; samples with a negative label are not counted. It returns the number counted.
func TopKAccuracy(scores [][]float32, labels []int, ks []int) ([]float64, int, error) {
	if err := checkRows("top-k accuracy", len(scores), len(labels)); err != nil {
		return nil, 0, err
	}
	hits := make([]int, len(ks))
	n := 0
	for i, l := range labels {
		if l < 0 {
			continue
		}
		if l >= len(scores[i]) {
			return nil, 0, fmt.Errorf("top-k accuracy: sample %d has label %d but %d scores", i, l, len(scores[i]))
		}
		n++
		r := rank(scores[i], l)
		for j, k := range ks {
			if r < k {
				hits[j]++
			}
		}
	}
	acc := make([]float64, len(ks))
	for j := range ks {
		acc[j] = ratio(hits[j], n)
	}
	return acc, n, nil
}

// CategoryResult is the category section of `atelier eval fashionnet`.
type CategoryResult struct {
	Top1 Value `json:"top1"`
	Top3 Value `json:"top3"`
	Top5 Value `json:"top5"`
	N    int   `json:"n"`
	// Confusions are the most frequent top-1 errors, when the category names are known.
	Confusions []Confusion `json:"confusions,omitempty"`
}

// Confusion is a pair of classes that a classifier mixes up.
type Confusion struct {
	True      string `json:"true"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
	// Share is Count over the samples of the true class.
	Share Value `json:"share"`
}

// TopConfusions returns the n most frequent errors of the top-1 predictions pred against labels
// (both 0-based in names' order; negative labels are skipped), most frequent first, ties in
// label then prediction order.
func TopConfusions(pred, labels []int, names []string, n int) ([]Confusion, error) {
	if len(pred) != len(labels) {
		return nil, fmt.Errorf("confusions: %d predictions for %d labels", len(pred), len(labels))
	}
	type pair struct{ t, p int }
	counts, totals := map[pair]int{}, map[int]int{}
	for i, l := range labels {
		if l < 0 {
			continue
		}
		if p := pred[i]; l >= len(names) || p < 0 || p >= len(names) {
			return nil, fmt.Errorf("confusions: sample %d has label %d, prediction %d; want 0..%d", i, l, p, len(names)-1)
		}
		totals[l]++
		if pred[i] != l {
			counts[pair{l, pred[i]}]++
		}
	}
	pairs := slices.Collect(maps.Keys(counts))
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(counts[b]-counts[a], a.t-b.t, a.p-b.p)
	})
	out := make([]Confusion, 0, min(n, len(pairs)))
	for _, q := range pairs[:min(n, len(pairs))] {
		out = append(out, Confusion{names[q.t], names[q.p], counts[q], Value(ratio(counts[q], totals[q.t]))})
	}
	return out, nil
}

// Category computes top-1, top-3 and top-5 category accuracy (DeepFashion's category protocol).
// labels are 0-based score columns (a DeepFashion category id minus 1), negative for unknown.
func Category(scores [][]float32, labels []int) (CategoryResult, error) {
	acc, n, err := TopKAccuracy(scores, labels, []int{1, 3, 5})
	if err != nil {
		return CategoryResult{}, err
	}
	return CategoryResult{Top1: Value(acc[0]), Top3: Value(acc[1]), Top5: Value(acc[2]), N: n}, nil
}

// ClassifierResult is the output of `atelier eval classifier`.
type ClassifierResult struct {
	Accuracy float64 `json:"accuracy"`
	// PerClass is each class's accuracy (its recall: correct / samples of the class), keyed by
	// class name; classes without samples are absent.
	PerClass map[string]float64 `json:"per_class"`
	// Confusion[t][p] counts samples of true class t predicted as p.
	Confusion [][]int `json:"confusion"`
	N         int     `json:"n"`
}

// Classifier scores predicted class indices against labels, both 0-based in names' order.
func Classifier(pred, labels []int, names []string) (ClassifierResult, error) {
	if len(pred) != len(labels) {
		return ClassifierResult{}, fmt.Errorf("classifier: %d predictions for %d labels", len(pred), len(labels))
	}
	if len(labels) == 0 {
		return ClassifierResult{}, fmt.Errorf("classifier: no samples")
	}
	c := len(names)
	conf := make([][]int, c)
	for i := range conf {
		conf[i] = make([]int, c)
	}
	correct := 0
	for i, l := range labels {
		p := pred[i]
		if l < 0 || l >= c || p < 0 || p >= c {
			return ClassifierResult{}, fmt.Errorf("classifier: sample %d has label %d, prediction %d; want 0..%d", i, l, p, c-1)
		}
		conf[l][p]++
		if l == p {
			correct++
		}
	}
	per := make(map[string]float64, c)
	for t, row := range conf {
		total := 0
		for _, v := range row {
			total += v
		}
		if total > 0 {
			per[names[t]] = float64(row[t]) / float64(total)
		}
	}
	return ClassifierResult{
		Accuracy:  float64(correct) / float64(len(labels)),
		PerClass:  per,
		Confusion: conf,
		N:         len(labels),
	}, nil
}

// Argmax returns the index of the highest score of each row (the lowest index among ties).
func Argmax(scores [][]float32) []int {
	out := make([]int, len(scores))
	for i, row := range scores {
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}
