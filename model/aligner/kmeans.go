package aligner

import (
	"errors"
	"math"
	"math/rand/v2"

	"github.com/atelier-ml/atelier/fashion"
)

// Shape is a landmark configuration normalised to its garment's box: each slot's (x, y) as a
// fraction of the box's width and height from its top-left corner, with whether the slot is
// labeled. Unlabeled slots take no part in distances or means.
type Shape struct {
	Points  [fashion.NumLandmarks][2]float32
	Labeled [fashion.NumLandmarks]bool
}

// Centroid is a cluster centre: a full configuration (every slot has a value).
type Centroid [fashion.NumLandmarks][2]float32

// distance is the mean squared distance over the slots s labels (+Inf when none is labeled).
func distance(s Shape, c Centroid) float64 {
	sum, n := 0.0, 0
	for l := range fashion.NumLandmarks {
		if !s.Labeled[l] {
			continue
		}
		dx, dy := float64(s.Points[l][0]-c[l][0]), float64(s.Points[l][1]-c[l][1])
		sum += dx*dx + dy*dy
		n++
	}
	if n == 0 {
		return math.Inf(1)
	}
	return sum / float64(n)
}

// Nearest returns the index of the centroid closest to s (0 when s labels no slot).
func Nearest(s Shape, cs []Centroid) int {
	best, bestD := 0, math.Inf(1)
	for i, c := range cs {
		if d := distance(s, c); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// KMeans clusters landmark configurations into k groups (DFA's pseudo-labels): k-means++
// seeding from rng, then Lloyd iterations until no assignment changes or maxIter. Distances and
// means use labeled slots only; a slot that no member of a cluster labels keeps the mean of all
// shapes. It returns the centroids and each shape's cluster.
func KMeans(shapes []Shape, k, maxIter int, rng *rand.Rand) ([]Centroid, []int, error) {
	if k < 1 {
		return nil, nil, errors.New("k-means: k must be at least 1")
	}
	var usable []int
	for i, s := range shapes {
		for _, l := range s.Labeled {
			if l {
				usable = append(usable, i)
				break
			}
		}
	}
	if len(usable) < k {
		return nil, nil, errors.New("k-means: fewer labeled configurations than clusters")
	}
	global := mean(shapes, nil, Centroid{})
	// k-means++: each next centre is drawn with probability proportional to the squared
	// distance to the nearest centre so far.
	cs := []Centroid{fill(shapes[usable[rng.IntN(len(usable))]], global)}
	d := make([]float64, len(usable))
	for len(cs) < k {
		total := 0.0
		for j, i := range usable {
			d[j] = distance(shapes[i], cs[Nearest(shapes[i], cs)])
			total += d[j]
		}
		pick := usable[rng.IntN(len(usable))]
		if total > 0 {
			r := rng.Float64() * total
			for j, i := range usable {
				if r -= d[j]; r <= 0 {
					pick = i
					break
				}
			}
		}
		cs = append(cs, fill(shapes[pick], global))
	}
	assign := make([]int, len(shapes))
	for i := range assign {
		assign[i] = -1
	}
	for range max(maxIter, 1) {
		changed := false
		for i, s := range shapes {
			if a := Nearest(s, cs); a != assign[i] {
				assign[i], changed = a, true
			}
		}
		if !changed {
			break
		}
		for c := range cs {
			cs[c] = mean(shapes, func(i int) bool { return assign[i] == c }, global)
		}
	}
	return cs, assign, nil
}

// fill returns s as a centroid, taking def's value for unlabeled slots.
func fill(s Shape, def Centroid) Centroid {
	c := def
	for l := range fashion.NumLandmarks {
		if s.Labeled[l] {
			c[l] = s.Points[l]
		}
	}
	return c
}

// mean averages each slot over the shapes that label it (and that member accepts, when not
// nil); slots nobody labels take def's value.
func mean(shapes []Shape, member func(int) bool, def Centroid) Centroid {
	var sum [fashion.NumLandmarks][2]float64
	var n [fashion.NumLandmarks]int
	for i, s := range shapes {
		if member != nil && !member(i) {
			continue
		}
		for l := range fashion.NumLandmarks {
			if s.Labeled[l] {
				sum[l][0] += float64(s.Points[l][0])
				sum[l][1] += float64(s.Points[l][1])
				n[l]++
			}
		}
	}
	c := def
	for l := range fashion.NumLandmarks {
		if n[l] > 0 {
			c[l] = [2]float32{float32(sum[l][0] / float64(n[l])), float32(sum[l][1] / float64(n[l]))}
		}
	}
	return c
}
