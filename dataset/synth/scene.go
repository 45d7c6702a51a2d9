package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// shopBackground is a studio backdrop: a light, nearly even colour with a soft floor shadow.
func shopBackground(r *rand.Rand, c *canvas, ph *photo) {
	tones := []rgb{{0.96, 0.96, 0.96}, {0.9, 0.9, 0.91}, {0.94, 0.91, 0.86}, {0.88, 0.9, 0.93}, {0.97, 0.95, 0.93}}
	base := tones[r.IntN(len(tones))].scale(float32(uniform(r, 0.92, 1.02)))
	for y := range c.h {
		row := base.scale(1 - 0.08*float32(y)/float32(c.h))
		for x := range c.w {
			c.pix[y*c.w+x] = row
		}
	}
	for _, wr := range ph.wearers {
		if !wr.flat {
			c.paint([][]pt{ellipse(pt{0, 1008}, 140, 22, 20)}, wr.h, flat(rgb{0.2, 0.2, 0.2}, 0.18), keepOwner, nil)
		}
	}
}

// texture is a flat colour with noise, for backgrounds and objects.
func texture(col rgb, size float64, amount float32, seed uint32) shader {
	return func(_, _ float64, x, y int) (rgb, float32) {
		return col.scale(1 - amount/2 + amount*vnoise(float64(x)/size, float64(y)/size, seed)), 1
	}
}

// clutterColor is a background colour: mostly muted, sometimes as bright as a garment.
func clutterColor(r *rand.Rand) rgb {
	if chance(r, 0.2) {
		return toRGB(palette[r.IntN(len(palette))].c)
	}
	return mix(rgb{0.5, 0.5, 0.5}, rgb{float32(r.Float64()), float32(r.Float64()), float32(r.Float64())}, 0.35).scale(float32(uniform(r, 0.5, 1.4)))
}

// streetBackground is a cluttered scene: wall or sky, ground, and buildings, windows, plants,
// signs and road markings.
func streetBackground(r *rand.Rand, c *canvas) {
	top, ground := clutterColor(r), clutterColor(r).scale(0.8)
	horizon := int(uniform(r, 0.3, 0.75) * float64(c.h))
	seed := r.Uint32()
	for y := range c.h {
		col := top
		if y > horizon {
			col = ground
		}
		for x := range c.w {
			c.pix[y*c.w+x] = col.scale(0.85 + 0.3*vnoise(float64(x)/9, float64(y)/9, seed))
		}
	}
	id := identity()
	w, h := float64(c.w), float64(c.h)
	for range 6 + r.IntN(14) {
		col := clutterColor(r)
		x, y := uniform(r, -0.1, 1.0)*w, uniform(r, -0.1, 1.0)*h
		switch pick(r, 45, 30, 25) {
		case 0:
			bw, bh := uniform(r, 0.05, 0.5)*w, uniform(r, 0.05, 0.6)*h
			c.paint([][]pt{rect(x, y, x+bw, y+bh)}, id, texture(col, uniform(r, 2, 12), 0.3, r.Uint32()), ownerBackground, nil)
			if chance(r, 0.5) { // windows
				var win [][]pt
				step := uniform(r, 10, 30)
				for wy := y + 4; wy+step/2 < y+bh; wy += step {
					for wx := x + 4; wx+step/2 < x+bw; wx += step {
						win = append(win, rect(wx, wy, wx+step*0.55, wy+step*0.6))
					}
				}
				c.paint(win, id, flat(clutterColor(r).scale(0.7), 1), ownerBackground, nil)
			}
		case 1:
			rad := uniform(r, 0.04, 0.2) * w
			c.paint([][]pt{ellipse(pt{x, y}, rad, rad*uniform(r, 0.6, 1.4), 18)}, id, texture(col, 3, 0.6, r.Uint32()), ownerBackground, nil)
		default:
			a := uniform(r, 0, math.Pi)
			d := pt{math.Cos(a), math.Sin(a)}.mul(w)
			o := pt{x, y}
			c.paint([][]pt{stroke([]pt{o.sub(d), o.add(d)}, uniform(r, 2, 16))}, id, flat(col, float32(uniform(r, 0.5, 1))), ownerBackground, nil)
		}
	}
}

// occlude puts objects in front of the figures: a bag in a hand, a pole, a table or car in the
// foreground, a passer-by's shoulder.
func occlude(r *rand.Rand, c *canvas, ph *photo) {
	w, h := float64(c.w), float64(c.h)
	id := identity()
	if front := ph.wearers[len(ph.wearers)-1]; !front.flat && chance(r, 0.3) {
		wr := front.body.arm[r.IntN(2)][2]
		bw, bh := uniform(r, 35, 55), uniform(r, 50, 85)
		bag := [][]pt{rect(wr.X-bw, wr.Y+8, wr.X+bw, wr.Y+8+bh), stroke([]pt{{wr.X - bw*0.6, wr.Y + 10}, {wr.X, wr.Y - 12}, {wr.X + bw*0.6, wr.Y + 10}}, 5)}
		c.paint(bag, front.h, texture(clutterColor(r), 4, 0.3, r.Uint32()), ownerOccluder, nil)
	}
	if chance(r, 0.15) {
		x, pw := uniform(r, 0, w), uniform(r, 0.04, 0.1)*w
		c.paint([][]pt{rect(x, -1, x+pw, h+1)}, id, texture(clutterColor(r), 6, 0.25, r.Uint32()), ownerOccluder, nil)
	}
	if chance(r, 0.12) {
		y := uniform(r, 0.7, 0.92) * h
		c.paint([][]pt{rect(-1, y, w+1, h+1)}, id, texture(clutterColor(r), 5, 0.3, r.Uint32()), ownerOccluder, nil)
	}
	if chance(r, 0.1) {
		x := -0.05 * w
		if chance(r, 0.5) {
			x = 1.05 * w
		}
		c.paint([][]pt{ellipse(pt{x, uniform(r, 0.3, 0.8) * h}, 0.2*w, 0.35*h, 20)}, id, texture(clutterColor(r).scale(0.6), 8, 0.2, r.Uint32()), ownerOccluder, nil)
	}
}

// degrade makes a consumer photo: a colour cast, sensor noise and sometimes blur. (JPEG
// artefacts come from saving it at a lower quality.) It also returns the share of the photo's
// resolution that the blur left, 1 without blur.
func degrade(r *rand.Rand, img *image.RGBA) (*image.RGBA, float64) {
	var cast [3]float64
	bright := uniform(r, 0.85, 1.1)
	for k := range cast {
		cast[k] = bright * uniform(r, 0.87, 1.13)
	}
	sigma := 0.0
	if chance(r, 0.7) {
		sigma = uniform(r, 3, 12)
	}
	var c [3]float32
	for k := range c {
		c[k] = float32(cast[k])
	}
	s := float32(sigma * 2)
	for i := 0; i < len(img.Pix); i += 4 {
		for k := range 3 {
			img.Pix[i+k] = toByte(float32(img.Pix[i+k])*c[k] + s*(r.Float32()-0.5) + 0.5)
		}
	}
	if chance(r, 0.5) {
		f := uniform(r, 0.4, 0.8)
		return blurImage(img, f), f
	}
	return img, 1
}
