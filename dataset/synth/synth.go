// Package synth renders synthetic DeepFashion data: garments drawn procedurally from their own
// landmarks, worn by simple figures in shop and street photos, with exact labels for every task
// (boxes, landmarks with visibility, category, attributes, item identity, shop or consumer source).
//
// Everything is deterministic for a seed: each item and each photo draws from its own PCG stream
// derived from the seed and its number, so photos can be rendered in any order or in parallel.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/atelier-ml/atelier/fashion"
)

// In-shop pose types (DeepFashion's pose_type) that ShopView renders.
const (
	PoseFront = 1 // frontal, on a model
	PoseSide  = 2 // turned to one side
	PoseFull  = 4 // zoomed out: the whole figure
	PoseZoom  = 5 // zoomed in on the garment, which may run off the picture
	PoseFlat  = 6 // stand-alone: the garment laid flat, no model
)

// ShopPoses lists the pose types that ShopView renders.
var ShopPoses = []int{PoseFront, PoseSide, PoseFull, PoseZoom, PoseFlat}

// Generator makes items and photos from one seed.
type Generator struct{ seed uint64 }

// New returns a generator for a seed.
func New(seed uint64) *Generator { return &Generator{seed: seed} }

// Random streams, one per use, so that adding draws to one never shifts another.
const (
	streamItem uint64 = iota + 1
	streamModel
	streamShop
	streamStreet
	streamFLD
	streamScene
	streamSplit
)

func (g *Generator) rng(stream uint64, a, b int) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed^stream*0x9e3779b97f4a7c15, uint64(a)<<32^uint64(b)))
}

// Item returns item number n of the generator's catalogue, of a kind drawn by weight.
func (g *Generator) Item(n int) *Item {
	r := g.rng(streamItem, n, 0)
	return g.item(r, pickKind(r, fashion.TypeUnknown), n)
}

// ItemOfKind returns item number n drawn as kind k.
func (g *Generator) ItemOfKind(k *Kind, n int) *Item { return g.item(g.rng(streamItem, n, 1), k, n) }

func (g *Generator) item(r *rand.Rand, k *Kind, n int) *Item {
	it := newItem(r, k)
	it.ID, it.n = fmt.Sprintf("id_%08d", n+1), n
	return it
}

// outfit dresses a figure around a subject item: a lower garment under a top, a top (sometimes
// tucked in) over a lower garment, trousers or a skirt under a coat. It returns the outfit in
// drawing order and the subject's index.
func outfit(r *rand.Rand, it *Item) ([]*Item, int) {
	switch {
	case it.Kind.Type == fashion.Upper || it.Kind.Category.Name == "Coat":
		return []*Item{newItem(r, pickKind(r, fashion.Lower)), it}, 1
	case it.Kind.Type == fashion.Lower:
		top := newItem(r, pickKind(r, fashion.Upper))
		if chance(r, 0.6) {
			top.HemY = math.Min(top.HemY, it.WaistY+25)
			return []*Item{top, it}, 1
		}
		return []*Item{it, top}, 0
	}
	return []*Item{it}, 0
}

// camera places a figure in the picture.
type camera struct {
	y0, y1, cx float64 // the canonical span to fit vertically, and the centre column
	fill       float64 // share of the picture height the span takes
	rot, yaw   float64 // in-plane rotation (radians) and horizontal squeeze of a turned body
	px, py     float64 // perspective, per pixel
	tx, ty     float64 // offset from the centre, in pixels
}

func (cam camera) homography(w, h int) homography {
	s := float64(h) * cam.fill / (cam.y1 - cam.y0)
	return translate(-cam.cx, -(cam.y0+cam.y1)/2).
		then(scale(s*cam.yaw, s)).
		then(rotate(cam.rot)).
		then(perspective(cam.px, cam.py)).
		then(translate(float64(w)/2+cam.tx, float64(h)/2+cam.ty))
}

// frame is the canonical vertical span that shows an item.
func frame(it *Item) (float64, float64) {
	switch it.Kind.Type {
	case fashion.Lower:
		return it.WaistY - 70, math.Min(it.HemY+70, 1015)
	case fashion.Upper:
		return 25, math.Max(it.HemY, 520) + 45
	}
	return 25, math.Min(math.Max(it.HemY, 560)+70, 1015)
}

func newLight(r *rand.Rand, w, h int, spread float64) lighting {
	return lighting{level: float32(uniform(r, 1-spread/2, 1+spread/3)), gx: float32(uniform(r, -spread, spread)),
		gy: float32(uniform(r, -spread, spread)) / 2, w: float32(w), h: float32(h)}
}

func only(n, i int) []bool {
	b := make([]bool, n)
	b[i] = true
	return b
}

// ShopView renders view number view of an item as a shop photo of size w x h in one of the
// ShopPoses: clean backdrop, centred, good light; the model and the rest of the outfit stay the
// same across an item's shop views.
func (g *Generator) ShopView(it *Item, pose, view, w, h int) *Rendered {
	r := g.rng(streamShop, it.n, view*8+pose)
	model := g.rng(streamModel, it.n, 0)
	clothes, subject := outfit(model, it)
	pr := shopPose
	if pose == PoseFlat {
		pr = flatPose
	}
	b := newBody(r, pr)
	y0, y1 := frame(it)
	cam := camera{y0: y0, y1: y1, fill: uniform(r, 0.86, 0.94), yaw: 1}
	wr := newWearer(model, b, clothes, only(len(clothes), subject))
	switch pose {
	case PoseSide:
		cam.yaw = uniform(r, 0.7, 0.82)
		cam.px = math.Copysign(uniform(r, 0.3, 0.6), r.Float64()-0.5) / float64(w)
	case PoseFull:
		cam.y0, cam.y1, cam.fill = -20, 1030, uniform(r, 0.9, 0.96)
	case PoseZoom:
		cam.fill = uniform(r, 1.3, 1.6)
		cam.ty = uniform(r, -0.1, 0.1) * float64(h)
	case PoseFlat:
		wr = &wearer{body: b, outfit: []*Item{it}, labelled: []bool{true}, flat: true}
		cam = flatCamera(it, b, w, h)
	}
	wr.h = cam.homography(w, h)
	ph := &photo{w: w, h: h, wearers: []*wearer{wr}, light: newLight(r, w, h, 0.1)}
	out, _ := render(r, ph)
	out.Garments[0].Pose = pose
	return out
}

// flatCamera frames a garment laid flat on body b (posed with flatPose).
func flatCamera(it *Item, b *body, w, h int) camera {
	s := buildShape(it, b)
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range s.polys {
		for _, q := range p {
			x0, x1, y0, y1 = math.Min(x0, q.X), math.Max(x1, q.X), math.Min(y0, q.Y), math.Max(y1, q.Y)
		}
	}
	cam := camera{y0: y0, y1: y1, cx: (x0 + x1) / 2, fill: 0.9, yaw: 1}
	// Fit the wider of the two extents.
	if (x1-x0)/float64(w) > (y1-y0)/float64(h) {
		d := (x1 - x0) * float64(h) / float64(w)
		cam.y0, cam.y1 = (y0+y1)/2-d/2, (y0+y1)/2+d/2
	}
	return cam
}

// StreetView renders view number view of an item as a consumer photo of size w x h: a person
// wearing it in a cluttered place, scaled 0.4-1.0, rotated up to 20 degrees, in perspective,
// sometimes occluded or cut off, with a colour cast, noise, blur and a low JPEG quality.
func (g *Generator) StreetView(it *Item, view, w, h int) *Rendered {
	r := g.rng(streamStreet, it.n, view)
	pr := streetPose
	if chance(r, 0.25) {
		pr = largePose
	}
	y0, y1 := frame(it)
	cam := camera{y0: y0, y1: y1, fill: uniform(r, 0.4, 1.0), rot: uniform(r, -20, 20) * math.Pi / 180,
		yaw: uniform(r, 0.7, 1), px: uniform(r, -0.35, 0.35) / float64(w), py: uniform(r, -0.35, 0.35) / float64(h),
		tx: uniform(r, -0.25, 0.25) * float64(w), ty: uniform(r, -0.2, 0.2) * float64(h)}
	return g.street(r, it, cam, pr, w, h)
}

func (g *Generator) street(r *rand.Rand, it *Item, cam camera, pr poseRange, w, h int) *Rendered {
	clothes, subject := outfit(r, it)
	wr := newWearer(r, newBody(r, pr), clothes, only(len(clothes), subject))
	wr.strands = wr.longHair && chance(r, 0.35)
	wr.h = cam.homography(w, h)
	out, _ := render(r, &photo{w: w, h: h, street: true, wearers: []*wearer{wr}, light: newLight(r, w, h, 0.35)})
	return out
}

// LandmarkView renders a photo for the landmark benchmark with one of FLD's variation types:
// 1 normal, 2 medium pose, 3 large pose, 4 medium zoom-in, 5 large zoom-in.
func (g *Generator) LandmarkView(it *Item, variation, view, w, h int) *Rendered {
	r := g.rng(streamFLD, it.n, view*8+variation)
	y0, y1 := frame(it)
	deg := math.Pi / 180
	cam := camera{y0: y0, y1: y1, yaw: 1}
	pr := streetPose
	switch variation {
	case 2:
		cam.fill, cam.rot, cam.yaw = uniform(r, 0.7, 0.95), uniform(r, -12, 12)*deg, uniform(r, 0.75, 0.9)
	case 3:
		cam.fill, cam.rot, cam.yaw = uniform(r, 0.65, 0.9), uniform(r, -20, 20)*deg, uniform(r, 0.55, 0.75)
		pr = largePose
	case 4:
		cam.fill, cam.rot = uniform(r, 1.2, 1.5), uniform(r, -8, 8)*deg
		cam.tx, cam.ty = uniform(r, -0.15, 0.15)*float64(w), uniform(r, -0.15, 0.15)*float64(h)
	case 5:
		cam.fill, cam.rot = uniform(r, 1.6, 2.1), uniform(r, -8, 8)*deg
		cam.tx, cam.ty = uniform(r, -0.25, 0.25)*float64(w), uniform(r, -0.25, 0.25)*float64(h)
	default:
		variation = 1
		cam.fill, cam.rot, cam.yaw = uniform(r, 0.75, 0.95), uniform(r, -6, 6)*deg, uniform(r, 0.9, 1)
		pr = shopPose
	}
	out := g.street(r, it, cam, pr, w, h)
	out.Garments[0].Variation = variation
	return out
}
