// Package eval computes the metrics of the benchmarks atelier reports, each by its published
// protocol: classification accuracy and confusion, category top-k accuracy, DeepFashion attribute
// top-k recall, fashion-landmark normalised error and detection rate, retrieval top-k accuracy
// (In-shop and Consumer-to-shop), and COCO-style detection AP. It is plain Go with no model
// dependency: callers pass scores, predictions and labels, and get result structs whose JSON
// field names are those of `atelier eval --json`.
package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Value is a metric that may be undefined (NaN), such as the error of a landmark that no sample
// labels; it encodes as JSON null when undefined, as encoding/json cannot write NaN.
type Value float64

// MarshalJSON writes the number, or null for NaN and infinities.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads a number, or null as NaN (an undefined metric stays undefined).
func (v *Value) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*v = Value(math.NaN())
		return nil
	}
	return json.Unmarshal(data, (*float64)(v))
}

// rank returns the 0-based position of entry i when scores are sorted in decreasing order, ties
// placed by lower index first (as a stable descending sort would place them). So entry i is among
// the k best exactly when rank < k.
func rank(scores []float32, i int) int {
	s, r := scores[i], 0
	for j, v := range scores {
		if v > s || (v == s && j < i) {
			r++
		}
	}
	return r
}

// ratio is n/d, or NaN when d is 0.
func ratio(n, d int) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

// thresholdKey formats a distance threshold as a JSON map key: "0.05".
func thresholdKey(t float64) string { return strconv.FormatFloat(t, 'f', -1, 64) }

func checkRows(what string, rows, labels int) error {
	if rows != labels {
		return fmt.Errorf("%s: %d score rows for %d labels", what, rows, labels)
	}
	return nil
}
