package synth

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/vector"
)

// Pixel owners in a label map besides the garments (1..n).
const (
	ownerBackground = 0
	ownerInner      = 252 // an unlabelled inner layer seen through an opening
	ownerOccluder   = 253 // a bag, pole or other object in front
	ownerFigure     = 254 // skin, hair, shoes and unlabelled clothes
	keepOwner       = -1  // paint without changing the owner (shadows)
)

// rgb is a linear-ish colour with channels in 0..1.
type rgb [3]float32

func toRGB(c color.RGBA) rgb { return rgb{float32(c.R) / 255, float32(c.G) / 255, float32(c.B) / 255} }

func (c rgb) scale(f float32) rgb { return rgb{c[0] * f, c[1] * f, c[2] * f} }

func mix(a, b rgb, t float32) rgb {
	return rgb{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

// shader gives the colour and opacity of a surface at canonical point (u, v) and pixel (x, y).
type shader func(u, v float64, x, y int) (rgb, float32)

func flat(c rgb, alpha float32) shader {
	return func(float64, float64, int, int) (rgb, float32) { return c, alpha }
}

// canvas is an image being painted, with the owner of every pixel.
type canvas struct {
	w, h  int
	pix   []rgb
	owner []uint8
	z     *vector.Rasterizer
	mask  *image.Alpha
}

func newCanvas(w, h int) *canvas {
	return &canvas{w: w, h: h, pix: make([]rgb, w*h), owner: make([]uint8, w*h),
		z: vector.NewRasterizer(1, 1), mask: image.NewAlpha(image.Rect(0, 0, 1, 1))}
}

// cover rasterizes polygons given in pixels (their union, whatever their orientation) and calls
// fn for every pixel they cover, with the coverage in (0, 1].
func (c *canvas) cover(polys [][]pt, fn func(x, y int, a float32)) {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range polys {
		for _, q := range p {
			x0, y0 = math.Min(x0, q.X), math.Min(y0, q.Y)
			x1, y1 = math.Max(x1, q.X), math.Max(y1, q.Y)
		}
	}
	bx0, by0 := max(int(math.Floor(x0)), 0), max(int(math.Floor(y0)), 0)
	bx1, by1 := min(int(math.Ceil(x1))+1, c.w), min(int(math.Ceil(y1))+1, c.h)
	if bx1 <= bx0 || by1 <= by0 {
		return
	}
	bw, bh := bx1-bx0, by1-by0
	c.z.Reset(bw, bh)
	c.z.DrawOp = draw.Src
	ox, oy := float64(bx0), float64(by0)
	for _, p := range polys {
		if len(p) < 3 {
			continue
		}
		area := 0.0
		for i := range p {
			q, r := p[i], p[(i+1)%len(p)]
			area += q.X*r.Y - r.X*q.Y
		}
		// The rasterizer adds signed coverage, so every polygon must turn the same way for
		// overlapping parts to make a union.
		at := func(i int) pt { return p[i] }
		if area < 0 {
			at = func(i int) pt { return p[len(p)-1-i] }
		}
		q := at(0)
		c.z.MoveTo(float32(q.X-ox), float32(q.Y-oy))
		for i := 1; i < len(p); i++ {
			q = at(i)
			c.z.LineTo(float32(q.X-ox), float32(q.Y-oy))
		}
		c.z.ClosePath()
	}
	if cap(c.mask.Pix) < bw*bh {
		c.mask.Pix = make([]uint8, bw*bh)
	}
	c.mask.Pix, c.mask.Stride, c.mask.Rect = c.mask.Pix[:bw*bh], bw, image.Rect(0, 0, bw, bh)
	c.z.Draw(c.mask, c.mask.Rect, image.Opaque, image.Point{})
	for y := range bh {
		row := c.mask.Pix[y*bw : (y+1)*bw]
		for x, m := range row {
			if m != 0 {
				fn(bx0+x, by0+y, float32(m)/255)
			}
		}
	}
}

// paint fills canonical polygons mapped by h with a shader. Pixels at least half covered pass to
// owner (unless owner is keepOwner) and, when cov is not nil, their coverage is recorded there.
func (c *canvas) paint(polys [][]pt, h homography, sh shader, owner int, cov *image.Alpha) {
	px := make([][]pt, len(polys))
	for i, p := range polys {
		px[i] = make([]pt, len(p))
		for j, q := range p {
			px[i][j] = h.apply(q)
		}
	}
	inv := h.inverse()
	c.cover(px, func(x, y int, a float32) {
		uv := inv.apply(pt{float64(x) + 0.5, float64(y) + 0.5})
		col, alpha := sh(uv.X, uv.Y, x, y)
		i := y*c.w + x
		c.pix[i] = mix(c.pix[i], col, a*alpha)
		if owner != keepOwner && a >= 0.5 {
			c.owner[i] = uint8(owner)
		}
		if cov != nil {
			cov.Pix[i] = max(cov.Pix[i], uint8(a*255))
		}
	})
}

// image converts the canvas to 8-bit RGBA.
func (c *canvas) image() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
	for i, p := range c.pix {
		for k := range 3 {
			img.Pix[4*i+k] = toByte(p[k]*255 + 0.5)
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

// toByte converts a channel value in 0..255 (plus rounding) to a byte, clamping.
func toByte(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// hash2 is a deterministic hash of a lattice point to [0, 1).
func hash2(x, y int, seed uint32) float32 {
	h := uint32(x)*0x8da6b343 ^ uint32(y)*0xd8163841 ^ seed*0xcb1ab31f
	h ^= h >> 13
	h *= 0x5bd1e995
	h ^= h >> 15
	return float32(h&0xffffff) / float32(1<<24)
}

// vnoise is smooth value noise in [0, 1).
func vnoise(x, y float64, seed uint32) float32 {
	fx, fy := math.Floor(x), math.Floor(y)
	ix, iy := int(fx), int(fy)
	tx, ty := float32(x-fx), float32(y-fy)
	tx, ty = tx*tx*(3-2*tx), ty*ty*(3-2*ty)
	a := hash2(ix, iy, seed) + (hash2(ix+1, iy, seed)-hash2(ix, iy, seed))*tx
	b := hash2(ix, iy+1, seed) + (hash2(ix+1, iy+1, seed)-hash2(ix, iy+1, seed))*tx
	return a + (b-a)*ty
}

func frac(x float64) float64 { return x - math.Floor(x) }

// lighting is the light of one photo: an overall level and a gradient across the image.
type lighting struct {
	level, gx, gy float32
	w, h          float32
}

func (l lighting) at(x, y int) float32 {
	return l.level * (1 + l.gx*(float32(x)/l.w-0.5) + l.gy*(float32(y)/l.h-0.5))
}

// The sizes of the prints and fabric textures that garmentShader draws: the floral, plaid and
// abstract repeats in multiples of the item's PatScale, knit's ribs (|sin(πu/knitRib)|) in
// canonical units and lace's holes by their angular frequency per canonical unit.
const (
	floralCell   = 1.9
	plaidRepeat  = 2
	abstractCell = 1.6
	knitRib      = 5
	laceFreq     = 0.75
)

// printRepeat is the period, in canonical units, of the item's print: the finest detail a
// photo must resolve to show it. It is 0 for prints that show at any size (solid, colour
// blocks, graphics).
func printRepeat(it *Item) float64 {
	switch it.Pattern {
	case Striped, Dotted:
		return it.PatScale
	case Floral:
		return it.PatScale * floralCell
	case Plaid:
		return it.PatScale * plaidRepeat
	case AbstractPrint:
		return it.PatScale * abstractCell
	}
	return 0
}

// fabricRepeat is the period, in canonical units, of the texture that shows the item's fabric,
// or 0 for fabrics known by what shows at any size: denim's colour and fading, leather's sheen,
// chiffon's sheerness, sequins' sparkle (drawn per pixel however small the sequins).
func fabricRepeat(it *Item) float64 {
	switch it.Fabric {
	case Knit:
		return knitRib
	case Lace:
		return 2 * math.Pi / laceFreq
	}
	return 0
}

// garmentShader renders an item's fabric and print under a light.
func garmentShader(it *Item, light lighting, blockY float64) shader {
	base, second := toRGB(palette[it.Color].c), toRGB(palette[it.Color2].c)
	if it.Fabric == Leather {
		base = base.scale(0.85)
	}
	sa, ca := math.Sincos(it.PatAngle)
	ps := it.PatScale
	seed := uint32(it.Color*131 + it.Color2*17 + int(it.PatPhase*1e6))
	white := rgb{0.97, 0.95, 0.85}
	return func(u, v float64, x, y int) (rgb, float32) {
		pu, pv := u*ca+v*sa, -u*sa+v*ca
		col := base
		switch it.Pattern {
		case Striped:
			if frac(pv/ps+it.PatPhase) < 0.4 {
				col = second
			}
		case Dotted:
			row := math.Floor(v / ps)
			du, dv := frac(u/ps+0.5*row+it.PatPhase)-0.5, frac(v/ps)-0.5
			if du*du+dv*dv < 0.05 {
				col = second
			}
		case Floral:
			cell := ps * floralCell
			cx, cy := math.Floor(u/cell), math.Floor(v/cell)
			jx, jy := float64(hash2(int(cx), int(cy), seed))-0.5, float64(hash2(int(cy), int(cx), seed+1))-0.5
			du, dv := u/cell-cx-0.5-0.25*jx, v/cell-cy-0.5-0.25*jy
			r := math.Hypot(du, dv)
			petal := 0.3 * (0.55 + 0.45*math.Abs(math.Cos(2.5*math.Atan2(dv, du)+jx*3)))
			switch {
			case r < 0.08:
				col = mix(second, white, 0.7)
			case r < petal:
				col = second
			case r < petal+0.05 && hash2(int(cx), int(cy), seed+2) < 0.5:
				col = mix(base, second, 0.35)
			}
		case Plaid:
			p := ps * plaidRepeat
			fu, fv := frac(u/p+it.PatPhase), frac(v/p)
			if fu < 0.3 {
				col = mix(col, second, 0.55)
			}
			if fv < 0.3 {
				col = mix(col, second, 0.55)
			}
			if math.Abs(fu-0.65) < 0.03 || math.Abs(fv-0.65) < 0.03 {
				col = col.scale(0.55)
			}
		case AbstractPrint:
			n := vnoise(pu/(ps*abstractCell), pv/(ps*abstractCell), seed) + 0.5*vnoise(pu/(ps*0.7), pv/(ps*0.7), seed+3)
			switch {
			case n < 0.5:
				col = second
			case n > 1.05:
				col = mix(base, white, 0.6)
			}
		case Colorblock:
			if v < blockY {
				col = second
			}
		}
		m, alpha := float32(1), float32(1)
		switch it.Fabric {
		case Cotton:
			m = 0.97 + 0.06*hash2(x, y, seed)
		case Denim:
			m = 0.86 + 0.16*float32(frac((u+v)/3.2)) + 0.1*(hash2(x, y, seed)-0.5)
			col = mix(col, white, 0.12*vnoise(u/40, v/25, seed))
		case Knit:
			m = 0.86 + 0.16*float32(math.Abs(math.Sin(u*math.Pi/knitRib))) - 0.04*float32(math.Abs(math.Sin(v*math.Pi/3.5)))
		case Leather:
			sh := math.Max(0, math.Sin(u*0.045+v*0.02+it.PatPhase*6))
			m = 0.82 + 0.55*float32(math.Pow(sh, 10)) + 0.1*vnoise(u/30, v/30, seed)
		case Lace:
			q := math.Sin(u*laceFreq)*math.Sin(v*laceFreq) + 0.5*math.Sin((u+v)*0.37)
			if q > 0.55 {
				alpha = 0.2
			} else if q > 0.4 {
				m = 0.8
			}
		case Chiffon:
			alpha = 0.8
			m = 1 + 0.1*float32(math.Sin(u*0.08+v*0.05))
		case Sequin:
			h := hash2(int(math.Floor(u/3.5)), int(math.Floor(v/3.5)), seed)
			m = 0.7 + 1.1*h*h*h
		}
		fold := float32(math.Max(0, math.Sin(u*0.07+2.2*math.Sin(v*0.012)+it.PatPhase*9)))
		side := float32(math.Min(1, u*u/(160*160)))
		m *= (1 - 0.07*fold) * (1 - 0.12*side) * light.at(x, y)
		return col.scale(m), alpha
	}
}

// toneShader darkens or lightens an underlying shader for seams, cuffs and collars.
func toneShader(under shader, tone float32) shader {
	return func(u, v float64, x, y int) (rgb, float32) {
		c, a := under(u, v, x, y)
		return c.scale(tone), max(a, 0.9)
	}
}

// blurImage softens an image by sampling it down by f and back up.
func blurImage(img *image.RGBA, f float64) *image.RGBA {
	b := img.Bounds()
	small := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(b.Dx())*f)), max(1, int(float64(b.Dy())*f))))
	xdraw.ApproxBiLinear.Scale(small, small.Bounds(), img, b, xdraw.Src, nil)
	out := image.NewRGBA(b)
	xdraw.BiLinear.Scale(out, b, small, small.Bounds(), xdraw.Src, nil)
	return out
}
