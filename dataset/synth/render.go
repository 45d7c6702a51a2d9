package synth

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

// Rendered is one synthetic photo with its exact annotation.
type Rendered struct {
	Image *image.RGBA
	// Garments are the labelled garments (box, landmarks with visibility, category, attributes,
	// item id, pose and variation); Items holds the item each one shows.
	Garments []dataset.Garment
	Items    []*Item
	// Owner says what is seen at every pixel (row-major): 0 background, i+1 garment i, 252 an
	// unlabelled inner layer, 253 an occluding object, 254 a figure's skin, hair and unlabelled clothes.
	Owner []uint8
	// Coverage holds each labelled garment's own anti-aliased mask, before anything in front
	// of it was drawn.
	Coverage []*image.Alpha
	// Quality is the JPEG quality to save the photo with: consumer photos are rougher.
	Quality int
}

// wearer is one figure (or a garment laid flat) in a photo.
type wearer struct {
	body *body
	h    homography
	// outfit is drawn in order; labelled says which of its garments are annotated.
	outfit   []*Item
	labelled []bool
	flat     bool
	// viewpoint is DeepFashion2's: 1 no wearer, 2 frontal, 3 turned.
	viewpoint int
	skin      rgb
	hair      rgb
	longHair  bool
	strands   bool
	shoes     rgb
}

// photo describes one picture to render.
type photo struct {
	w, h    int
	street  bool
	wearers []*wearer // back to front
	light   lighting
}

var skinTones = []color.RGBA{{241, 203, 172, 255}, {226, 176, 138, 255}, {199, 142, 104, 255},
	{160, 108, 74, 255}, {112, 74, 52, 255}, {236, 192, 160, 255}}

var hairColors = []color.RGBA{{22, 18, 16, 255}, {60, 40, 28, 255}, {110, 74, 44, 255},
	{196, 160, 100, 255}, {140, 60, 30, 255}, {150, 146, 140, 255}}

// newWearer dresses a posed figure in an outfit; r draws the figure's looks.
func newWearer(r *rand.Rand, b *body, outfit []*Item, labelled []bool) *wearer {
	return &wearer{body: b, outfit: outfit, labelled: labelled,
		skin:     toRGB(skinTones[r.IntN(len(skinTones))]),
		hair:     toRGB(hairColors[r.IntN(len(hairColors))]),
		longHair: chance(r, 0.5),
		shoes:    toRGB(palette[r.IntN(len(palette))].c).scale(0.7),
	}
}

// drawn is a garment on the canvas, waiting for its annotation.
type drawn struct {
	it    *Item
	shape *shape
	h     homography
	id    int
	// viewpoint is the wearer's DeepFashion2 viewpoint.
	viewpoint int
}

// render paints a photo and annotates its labelled garments, which it also returns as drawn.
func render(r *rand.Rand, ph *photo) (*Rendered, []drawn) {
	c := newCanvas(ph.w, ph.h)
	if ph.street {
		streetBackground(r, c)
	} else {
		shopBackground(r, c, ph)
	}
	out := &Rendered{Quality: 92}
	var garments []drawn
	for _, wr := range ph.wearers {
		if !wr.flat {
			c.drawFigureBack(wr, ph.light)
		}
		for i, it := range wr.outfit {
			s := buildShape(it, wr.body)
			owner := ownerFigure
			var cov *image.Alpha
			if wr.labelled[i] {
				owner = len(out.Items) + 1
				cov = image.NewAlpha(image.Rect(0, 0, ph.w, ph.h))
				out.Items = append(out.Items, it)
				out.Coverage = append(out.Coverage, cov)
				garments = append(garments, drawn{it, s, wr.h, owner, wr.viewpoint})
			}
			c.drawGarment(it, s, wr.h, ph.light, owner, cov)
		}
		if !wr.flat {
			c.drawFigureFront(wr, ph.light)
		}
	}
	if ph.street {
		occlude(r, c, ph)
	}
	out.Owner = c.owner
	img, sharpness := c.image(), 1.0
	if ph.street {
		img, sharpness = degrade(r, img)
		out.Quality = 35 + r.IntN(50)
	}
	out.Image = img
	for _, g := range garments {
		out.Garments = append(out.Garments, annotate(c, g, sharpness))
	}
	return out, garments
}

func (c *canvas) drawGarment(it *Item, s *shape, h homography, light lighting, owner int, cov *image.Alpha) {
	sh := garmentShader(it, light, colorblockY(it))
	c.paint(s.polys, h, sh, owner, cov)
	// Darker edges give the flat fill some depth.
	c.paint([][]pt{stroke(append(s.outline, s.outline[0]), 2.5)}, h, toneShader(sh, 0.78), keepOwner, nil)
	for _, d := range s.details {
		dsh, downer := sh, owner
		switch {
		case d.other:
			dsh, downer = garmentShader(&Item{Kind: it.Kind, Color: it.InnerColor, Fit: 1}, light, -1), ownerInner
		case d.col != (color.RGBA{}):
			col := toRGB(d.col)
			dsh = func(_, _ float64, x, y int) (rgb, float32) { return col.scale(light.at(x, y)), 1 }
		default:
			dsh = toneShader(sh, float32(d.tone))
		}
		c.paint(d.polys, h, dsh, downer, cov)
	}
}

// colorblockY is where a colour-blocked garment changes colour, in body units.
func colorblockY(it *Item) float64 {
	switch it.Kind.Type {
	case fashion.Lower:
		return (it.WaistY + it.HemY) / 2
	case fashion.Full:
		return 420
	}
	return 330
}

func skinShader(col rgb, light lighting) shader {
	return func(u, v float64, x, y int) (rgb, float32) {
		return col.scale(light.at(x, y) * (0.96 + 0.04*hash2(x/2, y/2, 7))), 1
	}
}

// drawFigureBack paints the body under the clothes: limbs, torso, shoes and hair behind.
func (c *canvas) drawFigureBack(wr *wearer, light lighting) {
	b := wr.body
	skin := skinShader(wr.skin, light)
	var polys [][]pt
	for side := range 2 {
		a := b.arm[side]
		polys = append(polys, band(b.legLine(side), b.legW0, b.legW1), band(a[:], b.armW0, b.armW1),
			ellipse(a[0], b.armW0, b.armW0*0.45, 14), ellipse(a[2].add(a[2].sub(a[1]).unit().mul(14)), 15, 15, 12))
	}
	polys = append(polys, b.torso(), rect(-b.neckW, b.neckY-70, b.neckW, b.neckY+10))
	c.paint(polys, wr.h, skin, ownerFigure, nil)
	var shoes [][]pt
	for side := range 2 {
		shoes = append(shoes, ellipse(b.leg[side][2].add(pt{0, 16}), 26, 15, 14))
	}
	c.paint(shoes, wr.h, skinShader(wr.shoes, light), ownerFigure, nil)
	if wr.longHair {
		hd := b.head
		c.paint([][]pt{{{hd.X - b.headR*1.1, hd.Y}, {hd.X + b.headR*1.1, hd.Y}, {hd.X + b.headR*1.3, hd.Y + 150}, {hd.X - b.headR*1.3, hd.Y + 150}}},
			wr.h, skinShader(wr.hair, light), ownerFigure, nil)
	}
}

// drawFigureFront paints the head and the hair in front of the clothes.
func (c *canvas) drawFigureFront(wr *wearer, light lighting) {
	b := wr.body
	hd := b.head
	c.paint([][]pt{ellipse(hd, b.headR*0.9, b.headR*1.08, 24)}, wr.h, skinShader(wr.skin, light), ownerFigure, nil)
	var hair []pt
	for i := 0; i <= 12; i++ {
		a := math.Pi + math.Pi*float64(i)/12
		hair = append(hair, pt{hd.X + b.headR*1.0*math.Cos(a), hd.Y - 8 + b.headR*1.12*math.Sin(a)})
	}
	polys := [][]pt{hair}
	if wr.strands {
		for _, sx := range []float64{-1, 1} {
			polys = append(polys, band([]pt{{sx * b.headR * 0.85, hd.Y}, {sx * (b.headR*0.95 + 8), b.neckY + 70}}, 12, 9))
		}
	}
	c.paint(polys, wr.h, skinShader(wr.hair, light), ownerFigure, nil)
	eyes := [][]pt{ellipse(pt{hd.X - 18, hd.Y + 4}, 4, 3, 8), ellipse(pt{hd.X + 18, hd.Y + 4}, 4, 3, 8)}
	c.paint(eyes, wr.h, flat(rgb{0.1, 0.08, 0.08}, 1), keepOwner, nil)
}

// minRepeatPx is the shortest period, in pixels, at which a photo can show a repeating pattern:
// two samples per period (Nyquist). A finer print or weave is drawn, but its samples alias into
// a pattern that no longer tells it apart.
const minRepeatPx = 2

// annotate turns a drawn garment into its DeepFashion annotation, reading visibility off the
// finished canvas; sharpness is the share of the photo's resolution left after its blur (1 for
// none). A label is unknown (0) when the part that shows it is hidden, or when the item has a
// print or fabric whose pattern is finer than the photo resolves.
func annotate(c *canvas, d drawn, sharpness float64) dataset.Garment {
	g := dataset.Garment{Category: d.it.Kind.Category.ID, Type: d.it.Kind.Type, ItemID: d.it.ID, HasBox: true}
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	var centre pt
	n := 0
	for _, p := range d.shape.polys {
		for _, q := range p {
			centre, n = centre.add(q), n+1
			q = d.h.apply(q)
			x0, y0, x1, y1 = math.Min(x0, q.X), math.Min(y0, q.Y), math.Max(x1, q.X), math.Max(y1, q.Y)
		}
	}
	pxPerUnit := d.h.resolution(centre.mul(1/float64(n))) * sharpness
	w, h := float64(c.w), float64(c.h)
	x0, y0 = clampf(math.Floor(x0), 0, w-2), clampf(math.Floor(y0), 0, h-2)
	x1, y1 = clampf(math.Ceil(x1), x0+1, w-1), clampf(math.Ceil(y1), y0+1, h-1)
	g.Box = [4]float32{float32(x0), float32(y0), float32(x1), float32(y1)}
	var seen [fashion.NumLandmarks]bool
	for _, l := range fashion.LandmarkSlots(g.Type) {
		if !d.shape.used[l] {
			continue
		}
		p := c.onFabric(d.h, d.shape.lm[l], d.shape.ref[l])
		vis := c.visibility(p, d.id)
		if vis == dataset.Truncated { // keep the coordinates in the picture, as the list files do
			p = pt{clampf(p.X, 0, w-1), clampf(p.Y, 0, h-1)}
		}
		g.Landmarks[l] = dataset.Point{X: float32(p.X), Y: float32(p.Y), Vis: vis, Labeled: true}
		seen[l] = g.Landmarks[l].Vis == dataset.Visible
	}
	g.Attributes = d.it.Labels()
	known := func(a anchor) bool {
		switch a {
		case sleeveAnchor:
			return seen[fashion.LeftSleeve] || seen[fashion.RightSleeve]
		case hemAnchor:
			return seen[fashion.LeftHem] || seen[fashion.RightHem]
		case collarAnchor:
			return seen[fashion.LeftCollar] || seen[fashion.RightCollar]
		case anyPart:
			return true
		}
		p, ok := d.shape.anchors[a]
		return ok && c.visibility(d.h.apply(p), d.id) == dataset.Visible
	}
	for i, def := range attrDefs {
		rep := def.repeat(d.it)
		if !known(def.needs) || g.Attributes[i] == 1 && rep > 0 && rep*pxPerUnit < minRepeatPx {
			g.Attributes[i] = 0
		}
	}
	return g
}

// onFabric maps a landmark to pixels and moves it up to 2 px towards its inside reference, so
// that a landmark on the garment's edge lands on a pixel of the garment.
func (c *canvas) onFabric(h homography, lm, ref pt) pt {
	p, q := h.apply(lm), h.apply(ref)
	d := q.sub(p)
	return p.add(d.unit().mul(math.Min(2, d.len()/2)))
}

// visibility is DeepFashion's visibility of a point of garment id: truncated outside the image,
// occluded where something else owns the pixel.
func (c *canvas) visibility(p pt, id int) dataset.Visibility {
	return visibility(c.owner, c.w, c.h, p, id)
}

func visibility(owner []uint8, w, h int, p pt, id int) dataset.Visibility {
	x, y := int(math.Floor(p.X)), int(math.Floor(p.Y))
	switch {
	case x < 0 || y < 0 || x >= w || y >= h:
		return dataset.Truncated
	case int(owner[y*w+x]) != id:
		return dataset.Occluded
	}
	return dataset.Visible
}
