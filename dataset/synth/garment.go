package synth

import (
	"image/color"
	"math"

	"github.com/atelier-ml/atelier/fashion"
)

// detail is a part drawn over a garment's fabric: a seam, pocket, button, zipper, belt or print.
type detail struct {
	polys [][]pt
	// tone darkens (below 1) or lightens the fabric underneath; used when col is zero.
	tone float64
	col  color.RGBA
	// other marks what belongs to another garment (the inner layer seen through an opening).
	other bool
}

// shape is one garment built on a posed body, in canonical units: the fabric polygons, the
// details, the eight landmark slots and the anchors of part attributes.
type shape struct {
	polys   [][]pt
	details []detail
	// lm are the landmark positions on the garment's edge; ref are points inside the garment
	// that each landmark is nudged towards so that its pixel lies on the fabric.
	lm, ref [fashion.NumLandmarks]pt
	used    [fashion.NumLandmarks]bool
	anchors map[anchor]pt
	// outline is the garment's contour in order, starting at the left collar (or left
	// waistline), for DeepFashion2's per-class contour landmarks.
	outline []pt
}

func stroke(line []pt, w float64) []pt { return band(line, w/2, w/2) }

func (s *shape) setLM(l fashion.Landmark, p, ref pt) {
	s.lm[l], s.ref[l], s.used[l] = p, ref, true
}

func (s *shape) add(d detail) { s.details = append(s.details, d) }

// neckHalf is half the width of the neck opening.
func neckHalf(it *Item, b *body) float64 {
	f := map[Neckline]float64{ScoopNeck: 1.9, VNeck: 1.5, Turtleneck: 1.12, Lapel: 1.45}[it.Neck]
	if f == 0 {
		f = 1.35
	}
	return f * b.neckW
}

// topHalf is half the width of an upper garment at height y.
func topHalf(it *Item, b *body, y float64) float64 {
	f := it.Fit
	chest := b.chestW*f + 5
	waist := lerpf(b.waistW*f+5, chest, clampf((f-1)/0.3, 0, 1))
	hip := math.Max(b.hipW*f+5, waist)
	switch {
	case y <= b.armpitY:
		return chest
	case y <= b.waistY:
		return lerpf(chest, waist, (y-b.armpitY)/(b.waistY-b.armpitY))
	case y <= b.hipY:
		return lerpf(waist, hip, (y-b.waistY)/(b.hipY-b.waistY))
	}
	return hip + it.Flare*0.45*(y-b.hipY)
}

// lowerHalf is half the width of a lower garment's waistband at height y.
func lowerHalf(it *Item, b *body, y float64) float64 {
	return lerpf(b.waistW, b.hipW, clampf((y-b.waistY)/(b.hipY-b.waistY), 0, 1))*it.Fit + 4
}

func detailColor(it *Item, options ...color.RGBA) color.RGBA {
	return options[(it.Color+it.Buttons+int(it.PatPhase*7))%len(options)]
}

var (
	metal     = color.RGBA{178, 176, 170, 255}
	gold      = color.RGBA{196, 160, 80, 255}
	ivory     = color.RGBA{236, 230, 212, 255}
	nearBlack = color.RGBA{26, 24, 24, 255}
	stitching = color.RGBA{204, 140, 64, 255}
)

// buildShape builds an item's garment on a body.
func buildShape(it *Item, b *body) *shape {
	s := &shape{anchors: map[anchor]pt{}}
	if it.Kind.Type == fashion.Lower {
		wy, wh := it.WaistY, lowerHalf(it, b, it.WaistY)
		s.setLM(fashion.LeftWaistline, pt{-wh, wy}, pt{-wh + 18, wy + 20})
		s.setLM(fashion.RightWaistline, pt{wh, wy}, pt{wh - 18, wy + 20})
		s.outline = []pt{{-wh, wy}, {wh, wy}}
		if it.Kind.Skirt {
			s.outline = append(s.outline, s.skirt(it, b, wy, wh)...)
		} else {
			s.outline = append(s.outline, s.legs(it, b, wy, wh)...)
		}
		s.lowerDetails(it, b, wy, wh)
		return s
	}
	bottom := it.HemY
	switch {
	case it.Kind.Skirt:
		bottom = b.waistY + 12
	case it.Kind.Legs:
		bottom = b.hipY - 10
	}
	neck, right, left := s.top(it, b, bottom)
	s.outline = append(neck, right...)
	switch {
	case it.Kind.Skirt:
		s.outline = append(s.outline, s.skirt(it, b, b.waistY, topHalf(it, b, b.waistY))...)
	case it.Kind.Legs:
		s.outline = append(s.outline, s.legs(it, b, b.waistY, topHalf(it, b, b.waistY))...)
	default:
		s.hemLandmarks(bottom, topHalf(it, b, bottom))
		s.outline = append(s.outline, pt{0, bottom + 6})
	}
	s.outline = append(s.outline, left...)
	if it.Kind.Type == fashion.Full {
		w := topHalf(it, b, b.waistY)
		s.setLM(fashion.LeftWaistline, pt{-w, b.waistY}, pt{-w + 20, b.waistY + 4})
		s.setLM(fashion.RightWaistline, pt{w, b.waistY}, pt{w - 20, b.waistY + 4})
	}
	return s
}

func (s *shape) hemLandmarks(y, half float64) {
	s.setLM(fashion.LeftHem, pt{-half, y}, pt{-half + 20, y - 22})
	s.setLM(fashion.RightHem, pt{half, y}, pt{half - 20, y - 22})
}

// top builds the upper-body part down to height bottom: torso, neckline, sleeves and their
// details. It returns the outline pieces: the neckline from the left collar to the right one, the
// right side from the shoulder down to the bottom corner, and the left side from the bottom
// corner up to the shoulder.
func (s *shape) top(it *Item, b *body, bottom float64) (neck, right, left []pt) {
	nw, ny := neckHalf(it, b), b.neckY
	ch := topHalf(it, b, b.armpitY)
	side := []pt{{-ch, b.armpitY}}
	for _, y := range []float64{b.waistY, b.hipY} {
		if y < bottom-5 && y > b.armpitY {
			side = append(side, pt{-topHalf(it, b, y), y})
		}
	}
	bw := topHalf(it, b, bottom)
	side = append(side, pt{-bw, bottom})

	var shoulderL, shoulderR []pt
	if it.Sleeve > 0 {
		shoulderL = []pt{{b.arm[0][0].X + 4, b.shoulderY + 2}}
		shoulderR = []pt{{b.arm[1][0].X - 4, b.shoulderY + 2}}
	} else {
		outer := -(nw + it.StrapW)
		shoulderL = []pt{{outer, ny + 4}, {lerpf(outer, -ch, 0.45), b.armpitY - 48}}
		shoulderR = []pt{shoulderL[1].mirror(), shoulderL[0].mirror()}
	}
	// The neckline's inner points, from right to left.
	var inner []pt
	switch it.Neck {
	case ScoopNeck:
		inner = []pt{{nw * 0.85, ny + 35}, {nw * 0.45, ny + 52}, {0, ny + 56}, {-nw * 0.45, ny + 52}, {-nw * 0.85, ny + 35}}
	case VNeck:
		inner = []pt{{0, ny + 75}}
	case Lapel:
		inner = []pt{{0, math.Min(ny+150, bottom-60)}}
	case Turtleneck:
		inner = []pt{{nw * 0.92, ny - 42}, {-nw * 0.92, ny - 42}}
	default:
		inner = []pt{{nw * 0.6, ny + 14}, {0, ny + 20}, {-nw * 0.6, ny + 14}}
	}
	torso := []pt{{-nw, ny}}
	torso = append(torso, shoulderL...)
	torso = append(torso, side...)
	torso = append(torso, pt{0, bottom + 6})
	for i := len(side) - 1; i >= 0; i-- {
		torso = append(torso, side[i].mirror())
	}
	torso = append(torso, shoulderR...)
	torso = append(torso, pt{nw, ny})
	torso = append(torso, inner...)
	s.polys = append(s.polys, torso)

	collarRef := pt{-nw - math.Min(10, math.Max(it.StrapW, 12)/2), ny + 22}
	if it.Neck == Turtleneck {
		collarRef = pt{-nw * 0.5, ny + 12}
	}
	s.setLM(fashion.LeftCollar, pt{-nw, ny}, collarRef)
	s.setLM(fashion.RightCollar, pt{nw, ny}, collarRef.mirror())
	neckBottom := ny
	for _, p := range inner {
		neckBottom = math.Max(neckBottom, p.Y)
	}
	s.anchors[frontAnchor] = pt{0, math.Min(neckBottom+40, bottom-20)}
	s.anchors[waistAnchor] = pt{0, math.Min(b.waistY, bottom-20)}

	neck = []pt{{-nw, ny}}
	for i := len(inner) - 1; i >= 0; i-- {
		neck = append(neck, inner[i])
	}
	neck = append(neck, pt{nw, ny})

	armL, armR := shoulderL, shoulderR
	if it.Sleeve > 0 {
		armL, armR = s.sleeve(it, b, 0), s.sleeve(it, b, 1)
	} else {
		s.setLM(fashion.LeftSleeve, shoulderL[0], shoulderL[0].add(pt{it.StrapW / 2, 18}))
		s.setLM(fashion.RightSleeve, shoulderR[1], shoulderR[1].add(pt{-it.StrapW / 2, 18}))
	}
	right = append(right, armR...)
	for _, p := range side {
		right = append(right, p.mirror())
	}
	for i := len(side) - 1; i >= 0; i-- {
		left = append(left, side[i])
	}
	left = append(left, armL...)
	s.topDetails(it, b, nw, ny, neckBottom, bottom, bw)
	return neck, right, left
}

// sleeve adds one sleeve and returns its outline piece in the order the garment's outline
// passes it (clockwise on the image: shoulder to cuff on the right, cuff to shoulder on the left).
func (s *shape) sleeve(it *Item, b *body, side int) []pt {
	arm := b.armLine(side)
	armLen := b.arm[side][1].sub(b.arm[side][0]).len() + b.arm[side][2].sub(b.arm[side][1]).len()
	length := 18 + it.Sleeve*armLen
	line := cut(arm, length)
	w0 := b.armW0*math.Max(it.Fit, 1) + 9
	w1 := lerpf(w0, b.armW1*math.Max(it.Fit, 1)+7, it.Sleeve)
	poly := band(line, w0, w1)
	s.polys = append(s.polys, poly)
	n := len(line)
	end := line[n-1]
	ref, _ := along(line, length-22)
	l := fashion.LeftSleeve
	if side == 1 {
		l = fashion.RightSleeve
	}
	s.setLM(l, end, ref)
	if it.Cuffs {
		a, _ := along(line, length-16)
		s.add(detail{polys: [][]pt{band([]pt{a, end}, w1+1, w1+1)}, tone: 0.8})
	}
	// band lists the left-hand offsets forward, then the right-hand ones backward; on the right
	// arm the left-hand side faces the armpit, on the left arm the shoulder.
	return bandOutline(poly, n, end)
}

// bandOutline returns the outline piece of a limb band (see band) without its first,
// inside-the-body points: the right-hand offsets to the end, then the left-hand ones back. Seen
// on the image this runs clockwise for every limb: band's left-hand side faces the body's centre
// line on the right limbs and away from it on the left ones.
func bandOutline(poly []pt, n int, end pt) []pt {
	var out []pt
	for i := 2*n - 2; i >= n; i-- {
		out = append(out, poly[i])
	}
	out = append(out, end)
	for i := n - 1; i >= 1; i-- {
		out = append(out, poly[i])
	}
	return out
}

// skirt adds a skirt from the waistband at height wy and half width wh; it returns the outline
// from the right hip round the hem to the left hip.
func (s *shape) skirt(it *Item, b *body, wy, wh float64) []pt {
	hemHalf := math.Max(b.hipW*it.Fit+8, wh) + it.Flare*0.45*(it.HemY-b.hipY)
	hipHalf := math.Max(b.hipW*it.Fit+8, lerpf(wh, hemHalf, (b.hipY-wy)/(it.HemY-wy)))
	y := it.HemY
	s.polys = append(s.polys, []pt{{-wh, wy}, {wh, wy}, {hipHalf, b.hipY}, {hemHalf, y},
		{hemHalf * 0.5, y + 6}, {0, y + 8}, {-hemHalf * 0.5, y + 6}, {-hemHalf, y}, {-hipHalf, b.hipY}})
	s.hemLandmarks(y, hemHalf)
	s.anchors[pocketAnchor] = pt{-(wh - 22), wy + 45}
	return []pt{{hipHalf, b.hipY}, {hemHalf, y}, {0, y + 8}, {-hemHalf, y}, {-hipHalf, b.hipY}}
}

// legs adds trouser legs and the hip block from the waistband at height wy; it returns the
// outline from the right hip down the right leg, through the crotch and up the left leg.
func (s *shape) legs(it *Item, b *body, wy, wh float64) []pt {
	hipHalf := math.Max(b.hipW*it.Fit+6, wh)
	s.polys = append(s.polys, []pt{{-wh, wy}, {wh, wy}, {hipHalf, b.hipY}, {hipHalf * 0.5, b.crotchY},
		{0, b.crotchY + 6}, {-hipHalf * 0.5, b.crotchY}, {-hipHalf, b.hipY}})
	out := []pt{{hipHalf, b.hipY}}
	legTotal := polyLen(b.legLine(0))
	for _, side := range []int{1, 0} {
		line := b.legLine(side)
		d := b.legAtY(side, it.HemY)
		seg := cut(line, d)
		w0 := hipHalf - b.hipW*0.5
		w1 := math.Max(it.LegHem, lerpf(b.legW0, b.legW1, d/legTotal)+3)
		poly := band(seg, w0, w1)
		s.polys = append(s.polys, poly)
		n := len(seg)
		end := seg[n-1]
		ref, _ := along(seg, d-25)
		l := fashion.LeftHem
		if side == 1 {
			l = fashion.RightHem
		}
		s.setLM(l, end, ref)
		if it.Cuffs {
			a, _ := along(seg, d-18)
			s.add(detail{polys: [][]pt{band([]pt{a, end}, w1+1, w1+1)}, tone: 0.8})
		}
		out = append(out, bandOutline(poly, n, end)...)
		if side == 1 {
			out = append(out, pt{0, b.crotchY + 6})
		}
	}
	s.anchors[pocketAnchor] = pt{-(wh - 22), wy + 45}
	return append(out, pt{-hipHalf, b.hipY})
}

// closedStroke is the outline of a polygon drawn as a line of width w.
func closedStroke(poly []pt, w float64) [][]pt {
	out := make([][]pt, len(poly))
	for i := range poly {
		out[i] = stroke([]pt{poly[i], poly[(i+1)%len(poly)]}, w)
	}
	return out
}

// buttonRow adds n buttons at x from y0 down to at most y1.
func (s *shape) buttonRow(it *Item, x, y0, y1 float64, n int) {
	if n == 0 {
		return
	}
	step := 42.0
	if n > 1 {
		step = math.Min(step, (y1-y0)/float64(n-1))
	}
	col := detailColor(it, gold, nearBlack, ivory, metal)
	d := detail{col: col}
	for i := range n {
		d.polys = append(d.polys, ellipse(pt{x, y0 + float64(i)*step}, 5.5, 5.5, 10))
	}
	s.add(d)
}

// zipperLine adds a zipper at x from y0 to y1.
func (s *shape) zipperLine(x, y0, y1 float64) {
	s.add(detail{polys: [][]pt{stroke([]pt{{x, y0}, {x, y1}}, 4), rect(x-4, y0, x+4, y0+14)}, col: metal})
}

// patchPockets adds two patch pockets centred at (±x, y).
func (s *shape) patchPockets(x, y, w, h float64) {
	var polys [][]pt
	for _, sx := range []float64{-x, x} {
		polys = append(polys, closedStroke(rect(sx-w/2, y-h/2, sx+w/2, y+h/2), 2.5)...)
		polys = append(polys, stroke([]pt{{sx - w/2, y - h/2 + 10}, {sx + w/2, y - h/2 + 10}}, 2))
	}
	s.add(detail{polys: polys, tone: 0.68})
}

func (s *shape) belt(it *Item, y, half float64) {
	s.add(detail{polys: [][]pt{rect(-half-2, y-9, half+2, y+9)}, col: detailColor(it, nearBlack, color.RGBA{92, 60, 38, 255})})
	s.add(detail{polys: [][]pt{rect(-11, y-12, 11, y+12)}, col: detailColor(it, gold, metal)})
}

func (s *shape) topDetails(it *Item, b *body, nw, ny, neckBottom, bottom, bw float64) {
	if it.Neck == Hood {
		c := pt{b.head.X, b.head.Y + 8}
		s.polys = append(s.polys, ellipse(c, b.headR*1.38, b.headR*1.34, 28))
		s.add(detail{polys: [][]pt{stroke(append(ellipse(c, b.headR*1.12, b.headR*1.1, 28), pt{c.X + b.headR*1.12, c.Y}), 7)}, tone: 0.78})
	}
	if it.Cuffs {
		s.add(detail{polys: [][]pt{{{-bw, bottom - 16}, {bw, bottom - 16}, {bw, bottom}, {0, bottom + 6}, {-bw, bottom}}}, tone: 0.82})
	}
	switch it.Neck {
	case ShirtCollar:
		flap := []pt{{-nw - 6, ny - 8}, {-3, ny + 24}, {-nw * 0.75, ny + 44}, {-nw - 20, ny + 16}}
		s.add(detail{polys: [][]pt{flap, mirrored(flap)}, tone: 0.93})
		s.add(detail{polys: append(closedStroke(flap, 1.8), closedStroke(mirrored(flap), 1.8)...), tone: 0.7})
	case Lapel:
		flap := []pt{{-nw, ny}, {-4, neckBottom}, {-22, neckBottom - 34}, {-nw - 26, ny + 58}}
		s.add(detail{polys: [][]pt{flap, mirrored(flap)}, tone: 0.88})
		s.add(detail{polys: append(closedStroke(flap, 1.8), closedStroke(mirrored(flap), 1.8)...), tone: 0.66})
	case Turtleneck:
		var ribs [][]pt
		for y := ny - 34; y < ny; y += 9 {
			ribs = append(ribs, stroke([]pt{{-nw * 0.95, y}, {nw * 0.95, y}}, 1.6))
		}
		s.add(detail{polys: ribs, tone: 0.82})
	}
	gap := 0.0
	if it.Open {
		gap = 12 + 34*(it.Fit-0.9)
		top := math.Max(neckBottom-4, ny+10)
		s.add(detail{polys: [][]pt{rect(-gap/2, top, gap/2, bottom+4)}, col: palette[it.InnerColor].c, other: true})
		s.add(detail{polys: [][]pt{stroke([]pt{{-gap / 2, top}, {-gap / 2, bottom + 6}}, 2.5), stroke([]pt{{gap / 2, top}, {gap / 2, bottom + 6}}, 2.5)}, tone: 0.7})
		// Buttons and zippers of an open garment sit on its left front edge.
		s.anchors[frontAnchor] = s.anchors[frontAnchor].add(pt{-gap/2 - 9, 0})
	}
	if it.Pattern == Graphic {
		c := pt{0, 272}
		var g []pt
		switch int(it.PatPhase * 3) {
		case 0:
			g = ellipse(c, 34, 34, 24)
		case 1:
			g = rect(-36, 250, 36, 296)
		default:
			for i := range 10 {
				r := 36.0
				if i%2 == 1 {
					r = 15
				}
				a := math.Pi * float64(i) / 5
				g = append(g, pt{c.X + r*math.Sin(a), c.Y - r*math.Cos(a)})
			}
		}
		s.add(detail{polys: [][]pt{g}, col: palette[it.Color2].c})
	}
	if it.Zipper {
		s.zipperLine(-gap/2-3*b2f(it.Open), neckBottom, bottom)
	}
	if it.Buttons > 0 {
		x := 0.0
		if it.Open {
			x = -gap/2 - 9
		}
		y0 := neckBottom + 16
		if it.Neck == Lapel {
			y0 = neckBottom + 6
		}
		s.buttonRow(it, x, y0, math.Min(bottom-28, b.hipY+80), it.Buttons)
	}
	pw := topHalf(it, b, bottom-60)
	s.anchors[pocketAnchor] = pt{-pw * 0.5, bottom - 70}
	if it.Kind.Legs {
		s.anchors[pocketAnchor] = pt{-b.chestW * 0.45, 300}
	}
	if it.Pockets {
		switch {
		case it.Neck == Hood:
			pocket := []pt{{-pw * 0.5, bottom - 100}, {pw * 0.5, bottom - 100}, {pw * 0.62, bottom - 24}, {-pw * 0.62, bottom - 24}}
			s.add(detail{polys: closedStroke(pocket, 2.5), tone: 0.7})
			s.anchors[pocketAnchor] = pt{-pw * 0.3, bottom - 60}
		case it.Kind.Legs:
			s.patchPockets(b.chestW*0.45, 300, 34, 38)
		default:
			s.patchPockets(pw*0.5, bottom-70, 42, 48)
		}
	}
	if it.Drawstring {
		s.add(detail{polys: [][]pt{stroke([]pt{{-11, ny + 18}, {-14, ny + 88}}, 3.5), stroke([]pt{{11, ny + 18}, {14, ny + 88}}, 3.5)}, col: ivory})
	}
	if it.Belt {
		s.belt(it, b.waistY, topHalf(it, b, b.waistY))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *shape) lowerDetails(it *Item, b *body, wy, wh float64) {
	s.add(detail{polys: [][]pt{rect(-wh, wy, wh, wy+14)}, tone: 0.88})
	s.anchors[waistAnchor] = pt{0, wy + 8}
	s.anchors[frontAnchor] = pt{0, wy + 30}
	seam := detail{tone: 0.68}
	if it.Fabric == Denim {
		seam = detail{col: stitching}
	}
	if it.Kind.Legs && it.Fabric != Knit {
		seam.polys = append(seam.polys, stroke([]pt{{8, wy + 14}, {10, b.crotchY - 30}, {0, b.crotchY - 8}}, 2))
	}
	if it.Pockets {
		for _, sx := range []float64{-1, 1} {
			seam.polys = append(seam.polys, stroke([]pt{{sx * (wh - 40), wy + 14}, {sx * (wh - 32), wy + 40}, {sx * (wh - 14), wy + 55}, {sx * (wh + 2), wy + 58}}, 2.5))
		}
	}
	if len(seam.polys) > 0 {
		s.add(seam)
	}
	if it.Buttons > 0 {
		if it.Kind.Skirt {
			s.buttonRow(it, 0, wy+24, it.HemY-30, it.Buttons)
		} else {
			s.buttonRow(it, 0, wy+7, wy+7, 1)
		}
	}
	if it.Zipper {
		s.zipperLine(0, wy+14, wy+95)
	}
	if it.Drawstring {
		s.add(detail{polys: [][]pt{stroke([]pt{{-8, wy + 10}, {-11, wy + 62}}, 3), stroke([]pt{{8, wy + 10}, {11, wy + 62}}, 3)}, col: ivory})
	}
	if it.Belt {
		s.belt(it, wy+7, wh)
	}
}
