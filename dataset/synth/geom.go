package synth

import "math"

// pt is a point; garments are built in canonical body units (x to the right of the image, y down,
// 0 the top of the head and 1000 the soles) and mapped to pixels by a homography.
type pt struct{ X, Y float64 }

func (a pt) add(b pt) pt            { return pt{a.X + b.X, a.Y + b.Y} }
func (a pt) sub(b pt) pt            { return pt{a.X - b.X, a.Y - b.Y} }
func (a pt) mul(f float64) pt       { return pt{a.X * f, a.Y * f} }
func (a pt) len() float64           { return math.Hypot(a.X, a.Y) }
func (a pt) perp() pt               { return pt{-a.Y, a.X} }
func (a pt) mirror() pt             { return pt{-a.X, a.Y} }
func lerpf(a, b, t float64) float64 { return a + (b-a)*t }

func (a pt) unit() pt {
	l := a.len()
	if l == 0 {
		return pt{}
	}
	return a.mul(1 / l)
}

func clampf(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// along returns the point at distance d along a polyline and the direction of travel there; past
// the end it extrapolates the last segment.
func along(line []pt, d float64) (pt, pt) {
	for i := 0; i+1 < len(line); i++ {
		seg := line[i+1].sub(line[i])
		l := seg.len()
		if d <= l || i+2 == len(line) {
			dir := seg.unit()
			return line[i].add(dir.mul(d)), dir
		}
		d -= l
	}
	return line[0], pt{0, 1}
}

// polyLen is the length of a polyline.
func polyLen(line []pt) float64 {
	l := 0.0
	for i := 0; i+1 < len(line); i++ {
		l += line[i+1].sub(line[i]).len()
	}
	return l
}

// cut returns the first d units of a polyline.
func cut(line []pt, d float64) []pt {
	out := []pt{line[0]}
	for i := 0; i+1 < len(line); i++ {
		l := line[i+1].sub(line[i]).len()
		if d <= l {
			p, _ := along(line[i:i+2], d)
			return append(out, p)
		}
		out = append(out, line[i+1])
		d -= l
	}
	return out
}

// band is the outline of a strip around a polyline whose half width goes from w0 to w1.
func band(line []pt, w0, w1 float64) []pt {
	total := polyLen(line)
	n := len(line)
	left := make([]pt, 0, n)
	right := make([]pt, 0, n)
	d := 0.0
	for i, p := range line {
		var dir pt
		switch {
		case i == 0:
			dir = line[1].sub(p)
		case i == n-1:
			dir = p.sub(line[i-1])
		default:
			dir = line[i+1].sub(line[i-1])
		}
		if i > 0 {
			d += p.sub(line[i-1]).len()
		}
		w := lerpf(w0, w1, d/math.Max(total, 1e-9))
		nrm := dir.unit().perp().mul(w)
		left = append(left, p.add(nrm))
		right = append(right, p.sub(nrm))
	}
	for i := n - 1; i >= 0; i-- {
		left = append(left, right[i])
	}
	return left
}

// ellipse is a polygon approximating an ellipse.
func ellipse(c pt, rx, ry float64, n int) []pt {
	out := make([]pt, n)
	for i := range out {
		a := 2 * math.Pi * float64(i) / float64(n)
		out[i] = pt{c.X + rx*math.Cos(a), c.Y + ry*math.Sin(a)}
	}
	return out
}

// rect is an axis-aligned rectangle polygon.
func rect(x0, y0, x1, y1 float64) []pt { return []pt{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}} }

// mirrored returns the polygon reflected about x = 0.
func mirrored(poly []pt) []pt {
	out := make([]pt, len(poly))
	for i, p := range poly {
		out[i] = p.mirror()
	}
	return out
}

// homography maps canonical points to pixels: (x, y) -> (h0x+h1y+h2, h3x+h4y+h5) / (h6x+h7y+h8).
type homography [9]float64

func identity() homography { return homography{1, 0, 0, 0, 1, 0, 0, 0, 1} }

func (h homography) apply(p pt) pt {
	w := h[6]*p.X + h[7]*p.Y + h[8]
	return pt{(h[0]*p.X + h[1]*p.Y + h[2]) / w, (h[3]*p.X + h[4]*p.Y + h[5]) / w}
}

// then returns the map "h, then g".
func (h homography) then(g homography) homography {
	var o homography
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			o[r*3+c] = g[r*3]*h[c] + g[r*3+1]*h[3+c] + g[r*3+2]*h[6+c]
		}
	}
	return o
}

func (h homography) inverse() homography {
	a, b, c, d, e, f, g, k, l := h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
	det := a*(e*l-f*k) - b*(d*l-f*g) + c*(d*k-e*g)
	return homography{
		(e*l - f*k) / det, (c*k - b*l) / det, (b*f - c*e) / det,
		(f*g - d*l) / det, (a*l - c*g) / det, (c*d - a*f) / det,
		(d*k - e*g) / det, (b*g - a*k) / det, (a*e - b*d) / det,
	}
}

func translate(x, y float64) homography { return homography{1, 0, x, 0, 1, y, 0, 0, 1} }
func scale(sx, sy float64) homography   { return homography{sx, 0, 0, 0, sy, 0, 0, 0, 1} }
func rotate(a float64) homography {
	c, s := math.Cos(a), math.Sin(a)
	return homography{c, -s, 0, s, c, 0, 0, 0, 1}
}

// perspective tilts the plane: points with px*x+py*y > 0 shrink towards the origin.
func perspective(px, py float64) homography { return homography{1, 0, 0, 0, 1, 0, px, py, 1} }

// resolution is how many output units a unit step at p becomes, along the axis h shrinks most.
func (h homography) resolution(p pt) float64 {
	q := h.apply(p)
	return math.Min(h.apply(p.add(pt{1, 0})).sub(q).len(), h.apply(p.add(pt{0, 1})).sub(q).len())
}
