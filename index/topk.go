package index

import (
	"cmp"
	"strings"
)

// cand is a scored row of the matrix.
type cand struct {
	score float32
	row   int
}

// cmpCand orders candidates from worst to best: by score, then by ID (the smaller ID ranks
// higher) so that equal scores have a deterministic order.
func cmpCand(a, b cand, items []Item) int {
	if c := cmp.Compare(a.score, b.score); c != 0 {
		return c
	}
	return strings.Compare(items[b.row].ID, items[a.row].ID)
}

// topK is a min-heap of the best candidates seen so far: t[0] is the worst of them.
type topK []cand

// push offers c and returns the heap, holding at most k candidates.
func (t topK) push(c cand, k int, items []Item) topK {
	if len(t) < k {
		t = append(t, c)
		for i := len(t) - 1; i > 0; {
			p := (i - 1) / 2
			if cmpCand(t[i], t[p], items) >= 0 {
				break
			}
			t[i], t[p] = t[p], t[i]
			i = p
		}
		return t
	}
	if cmpCand(c, t[0], items) <= 0 {
		return t
	}
	t[0] = c
	for i := 0; ; {
		l, s := 2*i+1, i
		if l < len(t) && cmpCand(t[l], t[s], items) < 0 {
			s = l
		}
		if r := l + 1; r < len(t) && cmpCand(t[r], t[s], items) < 0 {
			s = r
		}
		if s == i {
			return t
		}
		t[i], t[s] = t[s], t[i]
		i = s
	}
}
