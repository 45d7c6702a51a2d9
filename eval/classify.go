package eval

import (
	"cmp"
	"fmt"
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
	conf, _, err := confusionMatrix("confusions", pred, labels, len(names), true)
	if err != nil {
		return nil, err
	}
	type pair struct{ t, p int }
	var pairs []pair
	totals := make([]int, len(conf))
	for t, row := range conf {
		for p, v := range row {
			totals[t] += v
			if p != t && v > 0 {
				pairs = append(pairs, pair{t, p})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(conf[b.t][b.p]-conf[a.t][a.p], a.t-b.t, a.p-b.p)
	})
	out := make([]Confusion, 0, min(n, len(pairs)))
	for _, q := range pairs[:min(n, len(pairs))] {
		out = append(out, Confusion{names[q.t], names[q.p], conf[q.t][q.p], Value(ratio(conf[q.t][q.p], totals[q.t]))})
	}
	return out, nil
}

// confusionMatrix counts, for c classes, the samples of each true class t predicted as p
// (conf[t][p]) and the correct ones. Labels and predictions outside 0..c-1 are errors, except
// negative (unknown) labels when skipUnknown is set; what names the caller in errors.
func confusionMatrix(what string, pred, labels []int, c int, skipUnknown bool) (conf [][]int, correct int, err error) {
	if len(pred) != len(labels) {
		return nil, 0, fmt.Errorf("%s: %d predictions for %d labels", what, len(pred), len(labels))
	}
	conf = make([][]int, c)
	for i := range conf {
		conf[i] = make([]int, c)
	}
	for i, l := range labels {
		if l < 0 && skipUnknown {
			continue
		}
		p := pred[i]
		if l < 0 || l >= c || p < 0 || p >= c {
			return nil, 0, fmt.Errorf("%s: sample %d has label %d, prediction %d; want 0..%d", what, i, l, p, c-1)
		}
		conf[l][p]++
		if l == p {
			correct++
		}
	}
	return conf, correct, nil
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
	conf, correct, err := confusionMatrix("classifier", pred, labels, len(names), false)
	if err != nil {
		return ClassifierResult{}, err
	}
	if len(labels) == 0 {
		return ClassifierResult{}, fmt.Errorf("classifier: no samples")
	}
	per := make(map[string]float64, len(names))
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
