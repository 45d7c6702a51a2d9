package synth

import (
	"math"
	"math/rand/v2"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

// sceneKind draws a kind that DeepFashion2 labels (all but jumpsuits and rompers).
func sceneKind(r *rand.Rand) *Kind {
	for {
		if k := pickKind(r, fashion.TypeUnknown); k.Category.Name != "Jumpsuit" && k.Category.Name != "Romper" {
			return k
		}
	}
}

// sceneOutfit is outfit with every garment labelled, for a scene.
func sceneOutfit(r *rand.Rand, it *Item) ([]*Item, []bool) {
	clothes, _ := outfit(r, it)
	all := make([]bool, len(clothes))
	for i := range all {
		all[i] = true
	}
	return clothes, all
}

// Scene renders photo number img of DeepFashion2-style pair number pair, with every garment
// labelled by its DeepFashion2 class and contour landmarks. Photo 0 of a pair is the shop photo
// of the pair's featured item (laid flat or on a model); the others are street photos of people
// wearing it, sometimes with a second person, 1-3 garments in all. The featured item has style 1,
// the other garments style 0.
func (g *Generator) Scene(pair, img, w, h int) *Rendered {
	pr := g.rng(streamScene, pair, 0)
	featured := g.item(pr, sceneKind(pr), 1<<24+pair)
	r := g.rng(streamScene, pair, img+1)
	var ph *photo
	if img == 0 {
		ph = &photo{w: w, h: h, light: newLight(r, w, h, 0.1)}
		b := newBody(r, shopPose)
		y0, y1 := frame(featured)
		cam := camera{y0: y0, y1: y1, fill: uniform(r, 0.85, 0.95), yaw: 1}
		wr := &wearer{body: b, outfit: []*Item{featured}, labelled: []bool{true}, flat: true, viewpoint: 1}
		if chance(r, 0.5) {
			clothes, all := sceneOutfit(r, featured)
			wr = newWearer(r, b, clothes, all)
			wr.viewpoint = 2
		} else {
			wr.body = newBody(r, flatPose)
			cam = flatCamera(featured, wr.body, w, h)
		}
		wr.h = cam.homography(w, h)
		ph.wearers = []*wearer{wr}
	} else {
		ph = &photo{w: w, h: h, street: true, light: newLight(r, w, h, 0.35)}
		clothes, all := sceneOutfit(r, featured)
		a := newWearer(r, newBody(r, streetPose), clothes, all)
		a.strands = a.longHair && chance(r, 0.35)
		cam := camera{y0: -20, y1: 1030, fill: uniform(r, 0.5, 1.15), rot: uniform(r, -15, 15) * math.Pi / 180,
			yaw: uniform(r, 0.7, 1), px: uniform(r, -0.3, 0.3) / float64(w), py: uniform(r, -0.3, 0.3) / float64(h),
			tx: uniform(r, -0.2, 0.2) * float64(w), ty: uniform(r, -0.1, 0.25) * float64(h)}
		if len(clothes) < 3 && chance(r, 0.35) {
			other := newItem(r, pickKind(r, fashion.Full))
			for other.DF2Class() == 0 {
				other = newItem(r, pickKind(r, fashion.Full))
			}
			var oc []*Item
			var ol []bool
			if len(clothes) == 1 {
				oc, ol = sceneOutfit(r, newItem(r, sceneKind(r)))
			} else {
				oc, ol = []*Item{other}, []bool{true}
			}
			b := newWearer(r, newBody(r, streetPose), oc, ol)
			side := math.Copysign(1, r.Float64()-0.5)
			bcam := cam
			bcam.fill *= uniform(r, 0.75, 0.95)
			bcam.tx = side * uniform(r, 0.2, 0.35) * float64(w)
			cam.tx = -side * uniform(r, 0.1, 0.25) * float64(w)
			b.h, b.viewpoint = bcam.homography(w, h), viewpointOf(bcam)
			ph.wearers = append(ph.wearers, b)
		}
		a.h, a.viewpoint = cam.homography(w, h), viewpointOf(cam)
		ph.wearers = append(ph.wearers, a)
	}
	out, drawn := render(r, ph)
	for i, d := range drawn {
		gm := &out.Garments[i]
		c, _ := fashion.DF2ClassByID(d.it.DF2Class())
		if c.Type != gm.Type { // a coat is long sleeve outwear: keep only the new type's slots
			var kept [fashion.NumLandmarks]dataset.Point
			for _, l := range fashion.LandmarkSlots(c.Type) {
				kept[l] = gm.Landmarks[l]
			}
			gm.Landmarks = kept
		}
		gm.Category, gm.Type = c.ID, c.Type
		if d.it == featured {
			gm.Style = 1
		}
		df2Landmarks(gm, d, out.Owner, w, h, c.Landmarks)
	}
	return out
}

func viewpointOf(cam camera) int {
	if cam.yaw < 0.85 {
		return 3
	}
	return 2
}

// df2Landmarks samples n contour landmarks evenly along the garment's outline and fills in
// DeepFashion2's difficulty fields.
func df2Landmarks(gm *dataset.Garment, d drawn, owner []uint8, w, h, n int) {
	line := make([]pt, 0, len(d.shape.outline)+1)
	for _, p := range d.shape.outline {
		line = append(line, d.h.apply(p))
	}
	line = append(line, line[0])
	total := polyLen(line)
	visible, truncated := 0, 0
	gm.DF2Landmarks = make([]dataset.Point, n)
	for i := range n {
		p, _ := along(line, total*float64(i)/float64(n))
		vis := edgeVisibility(owner, w, h, p, d.id)
		pnt := dataset.Point{X: float32(clampf(p.X, 0, float64(w-1))), Y: float32(clampf(p.Y, 0, float64(h-1))), Vis: vis, Labeled: vis != dataset.Truncated}
		switch vis {
		case dataset.Visible:
			visible++
		case dataset.Truncated:
			truncated++
			pnt.Vis = dataset.Visible
		}
		gm.DF2Landmarks[i] = pnt
	}
	level := func(x, a, b float64) int {
		switch {
		case x < a:
			return 1
		case x < b:
			return 2
		}
		return 3
	}
	gm.Occlusion = level(1-float64(visible)/float64(n-truncated+1), 0.2, 0.5)
	gm.ZoomIn = level(float64(truncated)/float64(n), 0.01, 0.25)
	area := float64((gm.Box[2] - gm.Box[0]) * (gm.Box[3] - gm.Box[1]))
	gm.Scale = level(area/float64(w*h), 0.1, 0.35)
	gm.Viewpoint = d.viewpoint
}

// edgeVisibility is the visibility of a point on a garment's edge: visible when the garment owns
// a pixel within 2 px of it, occluded when it owns none, truncated outside the picture.
func edgeVisibility(owner []uint8, w, h int, p pt, id int) dataset.Visibility {
	x, y := int(math.Floor(p.X)), int(math.Floor(p.Y))
	if x < 0 || y < 0 || x >= w || y >= h {
		return dataset.Truncated
	}
	for yy := max(y-2, 0); yy <= min(y+2, h-1); yy++ {
		for xx := max(x-2, 0); xx <= min(x+2, w-1); xx++ {
			if int(owner[yy*w+xx]) == id {
				return dataset.Visible
			}
		}
	}
	return dataset.Occluded
}
