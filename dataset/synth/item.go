package synth

import (
	"math/rand/v2"

	"github.com/atelier-ml/atelier/fashion"
)

// Kind is one renderable DeepFashion category: which garment parts it has and how its shape,
// fabric, print and parts are drawn for a new item.
type Kind struct {
	Category fashion.Category
	Type     fashion.GarmentType
	// Skirt is true for garments whose lower part is a skirt; Legs for trouser legs.
	Skirt, Legs bool
	// ShopGroup is the In-shop and Consumer-to-shop folder name of the category.
	ShopGroup string
	weight    float64
	sample    func(r *rand.Rand, it *Item)
}

// Item is one product: everything that stays the same across its photos. Views of an item vary
// only in pose, light, framing, background and camera.
type Item struct {
	ID   string
	Kind *Kind
	// Sleeve is the sleeve length as a fraction of the arm (0 sleeveless, 1 to the wrist).
	Sleeve float64
	// HemY is where the garment ends, in canonical body units (0 top of head, 1000 soles).
	HemY float64
	// WaistY is where a lower garment's waistband sits.
	WaistY float64
	// Fit scales the body's width (below 1 fitted, above 1.2 loose); Flare widens a skirt or
	// coat per unit of length below the hips; LegHem is a trouser leg's half width at the hem.
	Fit, Flare, LegHem float64
	// StrapW is the shoulder strap width of a sleeveless top.
	StrapW float64
	Neck   Neckline
	// Open garments show an inner layer (of InnerColor) through a front opening.
	Open       bool
	InnerColor int
	Buttons    int
	Zipper     bool
	Pockets    bool
	Drawstring bool
	Belt       bool
	// Cuffs draws ribbed bands at the cuffs and hem.
	Cuffs   bool
	Fabric  Fabric
	Pattern Pattern
	// Color and Color2 index the palette; Color2 is the print's second colour.
	Color, Color2 int
	// PatScale (canonical units), PatAngle (radians) and PatPhase place the print.
	PatScale, PatAngle, PatPhase float64
	// n is the item's number in its generator, which seeds its photos.
	n int
}

// Labels returns the item's attribute labels in vocabulary order: +1 or -1.
func (it *Item) Labels() []int8 {
	out := make([]int8, len(attrDefs))
	for i, d := range attrDefs {
		out[i] = -1
		if d.has(it) {
			out[i] = 1
		}
	}
	return out
}

func pick(r *rand.Rand, weights ...float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// weighted choices over the enums, written as (value, weight) pairs.
type fabricW struct {
	f Fabric
	w float64
}
type patternW struct {
	p Pattern
	w float64
}
type neckW struct {
	n Neckline
	w float64
}

func pickFabric(r *rand.Rand, ws ...fabricW) Fabric {
	w := make([]float64, len(ws))
	for i := range ws {
		w[i] = ws[i].w
	}
	return ws[pick(r, w...)].f
}

func pickPattern(r *rand.Rand, ws ...patternW) Pattern {
	w := make([]float64, len(ws))
	for i := range ws {
		w[i] = ws[i].w
	}
	return ws[pick(r, w...)].p
}

func pickNeck(r *rand.Rand, ws ...neckW) Neckline {
	w := make([]float64, len(ws))
	for i := range ws {
		w[i] = ws[i].w
	}
	return ws[pick(r, w...)].n
}

// sleeveLength draws a sleeve: sleeveless, short, three-quarter or long, with these weights.
func sleeveLength(r *rand.Rand, none, short, threeQuarter, long float64) float64 {
	switch pick(r, none, short, threeQuarter, long) {
	case 0:
		return 0
	case 1:
		return uniform(r, 0.22, 0.4)
	case 2:
		return uniform(r, 0.55, 0.75)
	}
	return 1
}

// skirtHem draws a mini, midi or maxi hem with these weights.
func skirtHem(r *rand.Rand, mini, midi, maxi float64) float64 {
	switch pick(r, mini, midi, maxi) {
	case 0:
		return uniform(r, 570, miniMaxY-10)
	case 1:
		return uniform(r, miniMaxY+10, midiMaxY-10)
	}
	return uniform(r, midiMaxY+20, 955)
}

// legHem draws a trouser leg opening: skinny, straight or wide.
func legHem(r *rand.Rand, skinny, straight, wide float64) float64 {
	switch pick(r, skinny, straight, wide) {
	case 0:
		return uniform(r, 19, 25)
	case 1:
		return uniform(r, 29, 40)
	}
	return uniform(r, 48, 60)
}

// Kinds are the renderable categories.
var Kinds = buildKinds()

func buildKinds() []*Kind {
	k := func(name, group string, weight float64, skirt, legs bool, sample func(*rand.Rand, *Item)) *Kind {
		c, ok := fashion.CategoryByName(name)
		if !ok {
			panic("synth: unknown DeepFashion category " + name) // a typo in the table below
		}
		return &Kind{Category: c, Type: c.Type, Skirt: skirt, Legs: legs, ShopGroup: group, weight: weight, sample: sample}
	}
	basicPrints := []patternW{{Solid, 40}, {Striped, 15}, {Dotted, 10}, {Floral, 10}, {AbstractPrint, 10}, {Plaid, 8}, {Colorblock, 7}}
	return []*Kind{
		k("Tee", "Tees_Tanks", 1.4, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 0, 75, 5, 20)
			it.Neck = pickNeck(r, neckW{CrewNeck, 65}, neckW{VNeck, 25}, neckW{ScoopNeck, 10})
			it.Fabric = pickFabric(r, fabricW{Cotton, 85}, fabricW{Knit, 15})
			it.Pattern = pickPattern(r, patternW{Solid, 40}, patternW{Striped, 20}, patternW{Graphic, 25}, patternW{Dotted, 5}, patternW{Colorblock, 5}, patternW{AbstractPrint, 5})
			it.HemY = uniform(r, 470, 530)
			it.Fit = uniform(r, 0.95, 1.25)
		}),
		k("Tank", "Tees_Tanks", 1, false, false, func(r *rand.Rand, it *Item) {
			it.StrapW = uniform(r, 10, 40)
			it.Neck = pickNeck(r, neckW{ScoopNeck, 50}, neckW{CrewNeck, 25}, neckW{VNeck, 25})
			it.Fabric = pickFabric(r, fabricW{Cotton, 55}, fabricW{Knit, 20}, fabricW{Lace, 10}, fabricW{Sequin, 10}, fabricW{Chiffon, 5})
			it.Pattern = pickPattern(r, basicPrints...)
			it.HemY = uniform(r, 460, 530)
			if chance(r, 0.3) {
				it.HemY = uniform(r, 370, croppedMaxY-10)
			}
			it.Fit = uniform(r, 0.88, 1.1)
		}),
		k("Blouse", "Blouses_Shirts", 1.2, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 20, 30, 20, 30)
			it.StrapW = uniform(r, 25, 45)
			it.Neck = pickNeck(r, neckW{VNeck, 40}, neckW{ShirtCollar, 30}, neckW{ScoopNeck, 20}, neckW{CrewNeck, 10})
			it.Fabric = pickFabric(r, fabricW{Chiffon, 55}, fabricW{Lace, 15}, fabricW{Cotton, 30})
			it.Pattern = pickPattern(r, patternW{Floral, 30}, patternW{Solid, 35}, patternW{Dotted, 15}, patternW{Striped, 10}, patternW{AbstractPrint, 10})
			if chance(r, 0.4) || it.Neck == ShirtCollar && chance(r, 0.6) {
				it.Buttons = 3 + r.IntN(4)
			}
			it.HemY = uniform(r, 460, 525)
			it.Fit = uniform(r, 1.05, 1.3)
		}),
		k("Sweater", "Sweaters", 1, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 0, 0, 10, 90)
			it.Neck = pickNeck(r, neckW{CrewNeck, 55}, neckW{VNeck, 25}, neckW{Turtleneck, 20})
			it.Fabric = pickFabric(r, fabricW{Knit, 85}, fabricW{Cotton, 15})
			it.Pattern = pickPattern(r, patternW{Solid, 50}, patternW{Striped, 25}, patternW{Colorblock, 15}, patternW{AbstractPrint, 10})
			it.Cuffs = true
			it.HemY = uniform(r, 480, 545)
			if chance(r, 0.15) {
				it.HemY = uniform(r, 380, croppedMaxY-10)
			}
			it.Fit = uniform(r, 1.1, 1.35)
		}),
		k("Hoodie", "Sweatshirts_Hoodies", 1, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = 1
			it.Neck = Hood
			it.Zipper = chance(r, 0.35)
			it.Pockets = chance(r, 0.8)
			it.Drawstring = chance(r, 0.8)
			it.Fabric = pickFabric(r, fabricW{Cotton, 70}, fabricW{Knit, 30})
			it.Pattern = pickPattern(r, patternW{Solid, 60}, patternW{Colorblock, 20}, patternW{Graphic, 15}, patternW{Striped, 5})
			it.Cuffs = true
			it.HemY = uniform(r, 500, 545)
			it.Fit = uniform(r, 1.15, 1.35)
		}),
		k("Jacket", "Jackets_Coats", 1, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 0, 10, 0, 90)
			it.Neck = pickNeck(r, neckW{ShirtCollar, 60}, neckW{CrewNeck, 20}, neckW{Hood, 20})
			if it.Zipper = chance(r, 0.55); !it.Zipper {
				it.Buttons = 3 + r.IntN(3)
			}
			it.Open = chance(r, 0.35)
			it.Pockets = chance(r, 0.75)
			it.Fabric = pickFabric(r, fabricW{Denim, 35}, fabricW{Leather, 30}, fabricW{Cotton, 35})
			it.Pattern = pickPattern(r, patternW{Solid, 80}, patternW{Plaid, 10}, patternW{Colorblock, 10})
			it.HemY = uniform(r, 470, 525)
			it.Fit = uniform(r, 1.05, 1.25)
		}),
		k("Blazer", "Suiting", 1, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 0, 0, 15, 85)
			it.Neck = Lapel
			it.Buttons = 1 + r.IntN(3)
			it.Open = chance(r, 0.5)
			it.Pockets = chance(r, 0.7)
			it.Fabric = pickFabric(r, fabricW{Cotton, 85}, fabricW{Leather, 5}, fabricW{Knit, 10})
			it.Pattern = pickPattern(r, patternW{Solid, 70}, patternW{Plaid, 20}, patternW{Striped, 10})
			it.HemY = uniform(r, 510, 565)
			it.Fit = uniform(r, 0.92, 1.08)
		}),
		k("Cardigan", "Cardigans", 1, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 0, 0, 25, 75)
			it.Neck = pickNeck(r, neckW{VNeck, 70}, neckW{CrewNeck, 30})
			it.Open = chance(r, 0.7)
			if chance(r, 0.6) {
				it.Buttons = 4 + r.IntN(3)
			}
			it.Pockets = chance(r, 0.3)
			it.Cuffs = true
			it.Fabric = pickFabric(r, fabricW{Knit, 90}, fabricW{Lace, 10})
			it.Pattern = pickPattern(r, patternW{Solid, 60}, patternW{Striped, 15}, patternW{Colorblock, 10}, patternW{AbstractPrint, 10}, patternW{Dotted, 5})
			it.HemY = uniform(r, 480, 600)
			it.Fit = uniform(r, 1.05, 1.3)
		}),
		k("Jeans", "Denim", 1.2, false, true, func(r *rand.Rand, it *Item) {
			it.Fabric = Denim
			it.Pattern = pickPattern(r, patternW{Solid, 92}, patternW{Colorblock, 4}, patternW{AbstractPrint, 4})
			it.HemY = uniform(r, 900, 960)
			it.LegHem = legHem(r, 40, 40, 20)
			it.WaistY = uniform(r, 390, 425)
			it.Pockets = chance(r, 0.95)
			it.Buttons = 1
			it.Belt = chance(r, 0.2)
			it.Fit = uniform(r, 0.95, 1.1)
		}),
		k("Shorts", "Shorts", 1, false, true, func(r *rand.Rand, it *Item) {
			it.Fabric = pickFabric(r, fabricW{Cotton, 50}, fabricW{Denim, 40}, fabricW{Leather, 5}, fabricW{Knit, 5})
			it.Pattern = pickPattern(r, basicPrints...)
			it.HemY = uniform(r, 560, 650)
			it.LegHem = uniform(r, 36, 56)
			it.WaistY = uniform(r, 385, 420)
			it.Pockets = chance(r, 0.6)
			it.Drawstring = chance(r, 0.2)
			it.Belt = chance(r, 0.15)
			it.Fit = uniform(r, 1.0, 1.2)
		}),
		k("Skirt", "Skirts", 1.1, true, false, func(r *rand.Rand, it *Item) {
			it.HemY = skirtHem(r, 45, 35, 20)
			it.Flare = uniform(r, 0, 0.55)
			it.WaistY = uniform(r, 385, 410)
			it.Fabric = pickFabric(r, fabricW{Cotton, 35}, fabricW{Denim, 15}, fabricW{Leather, 10}, fabricW{Chiffon, 15}, fabricW{Lace, 10}, fabricW{Knit, 10}, fabricW{Sequin, 5})
			it.Pattern = pickPattern(r, basicPrints...)
			it.Belt = chance(r, 0.15)
			if chance(r, 0.1) {
				it.Buttons = 3 + r.IntN(3)
			}
			it.Zipper = it.Buttons == 0 && chance(r, 0.1)
			it.Pockets = chance(r, 0.15)
			it.Fit = uniform(r, 0.95, 1.1)
		}),
		k("Leggings", "Leggings", 0.9, false, true, func(r *rand.Rand, it *Item) {
			it.Fabric = pickFabric(r, fabricW{Knit, 60}, fabricW{Leather, 25}, fabricW{Cotton, 15})
			it.Pattern = pickPattern(r, patternW{Solid, 70}, patternW{AbstractPrint, 15}, patternW{Floral, 5}, patternW{Striped, 10})
			it.HemY = uniform(r, 870, 960)
			it.LegHem = uniform(r, 17, 23)
			it.WaistY = uniform(r, 375, 400)
			it.Fit = uniform(r, 0.88, 0.98)
		}),
		k("Joggers", "Pants", 0.9, false, true, func(r *rand.Rand, it *Item) {
			it.Fabric = pickFabric(r, fabricW{Cotton, 60}, fabricW{Knit, 40})
			it.Pattern = pickPattern(r, patternW{Solid, 70}, patternW{Colorblock, 15}, patternW{Striped, 15})
			it.HemY = uniform(r, 915, 960)
			it.LegHem = uniform(r, 21, 27)
			it.WaistY = uniform(r, 385, 410)
			it.Cuffs = true
			it.Drawstring = chance(r, 0.85)
			it.Pockets = chance(r, 0.7)
			it.Fit = uniform(r, 1.15, 1.35)
		}),
		k("Coat", "Jackets_Coats", 0.9, false, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = 1
			it.HemY = uniform(r, 680, 860)
			it.Neck = pickNeck(r, neckW{Lapel, 40}, neckW{ShirtCollar, 40}, neckW{Hood, 10}, neckW{CrewNeck, 10})
			if chance(r, 0.7) {
				it.Buttons = 3 + r.IntN(4)
			}
			it.Zipper = it.Buttons == 0 && chance(r, 0.6)
			it.Belt = chance(r, 0.4)
			it.Pockets = chance(r, 0.8)
			it.Open = chance(r, 0.25)
			it.Flare = uniform(r, 0.05, 0.3)
			it.Fabric = pickFabric(r, fabricW{Cotton, 60}, fabricW{Leather, 20}, fabricW{Knit, 20})
			it.Pattern = pickPattern(r, patternW{Solid, 75}, patternW{Plaid, 20}, patternW{Colorblock, 5})
			it.Fit = uniform(r, 1.05, 1.3)
		}),
		k("Dress", "Dresses", 1.4, true, false, func(r *rand.Rand, it *Item) {
			it.Sleeve = sleeveLength(r, 35, 30, 10, 25)
			it.StrapW = uniform(r, 10, 40)
			it.Neck = pickNeck(r, neckW{VNeck, 30}, neckW{ScoopNeck, 30}, neckW{CrewNeck, 25}, neckW{ShirtCollar, 10}, neckW{Turtleneck, 5})
			it.HemY = skirtHem(r, 40, 35, 25)
			it.Flare = uniform(r, 0.05, 0.6)
			it.Belt = chance(r, 0.25)
			if chance(r, 0.15) {
				it.Buttons = 4 + r.IntN(4)
			}
			it.Zipper = it.Buttons == 0 && chance(r, 0.05)
			it.Fabric = pickFabric(r, fabricW{Cotton, 40}, fabricW{Chiffon, 25}, fabricW{Lace, 15}, fabricW{Knit, 10}, fabricW{Sequin, 5}, fabricW{Leather, 5})
			it.Pattern = pickPattern(r, patternW{Solid, 35}, patternW{Floral, 25}, patternW{Dotted, 10}, patternW{Striped, 10}, patternW{AbstractPrint, 10}, patternW{Plaid, 5}, patternW{Colorblock, 5})
			it.Fit = uniform(r, 0.9, 1.15)
		}),
		k("Jumpsuit", "Rompers_Jumpsuits", 0.9, false, true, func(r *rand.Rand, it *Item) {
			jumpsuitLike(r, it)
			it.HemY = uniform(r, 900, 960)
			it.LegHem = legHem(r, 10, 40, 50)
		}),
		k("Romper", "Rompers_Jumpsuits", 0.9, false, true, func(r *rand.Rand, it *Item) {
			jumpsuitLike(r, it)
			it.HemY = uniform(r, 560, 640)
			it.LegHem = uniform(r, 36, 54)
		}),
	}
}

// jumpsuitLike draws what jumpsuits and rompers share: a top joined to trouser legs.
func jumpsuitLike(r *rand.Rand, it *Item) {
	it.Sleeve = sleeveLength(r, 45, 35, 0, 20)
	it.StrapW = uniform(r, 12, 40)
	it.Neck = pickNeck(r, neckW{VNeck, 40}, neckW{ScoopNeck, 20}, neckW{CrewNeck, 20}, neckW{ShirtCollar, 20})
	it.Belt = chance(r, 0.4)
	if chance(r, 0.25) {
		it.Buttons = 3 + r.IntN(4)
	}
	it.Zipper = it.Buttons == 0 && chance(r, 0.15)
	it.Pockets = chance(r, 0.4)
	it.Fabric = pickFabric(r, fabricW{Cotton, 60}, fabricW{Denim, 20}, fabricW{Chiffon, 10}, fabricW{Knit, 10})
	it.Pattern = pickPattern(r, patternW{Solid, 55}, patternW{Floral, 15}, patternW{Striped, 10}, patternW{Dotted, 10}, patternW{AbstractPrint, 10})
	it.Fit = uniform(r, 0.95, 1.2)
}

// KindByName returns the renderable kind of a DeepFashion category name.
func KindByName(name string) (*Kind, bool) {
	for _, k := range Kinds {
		if k.Category.Name == name {
			return k, true
		}
	}
	return nil, false
}

// pickKind draws a kind by weight, restricted to a garment type unless t is TypeUnknown.
func pickKind(r *rand.Rand, t fashion.GarmentType) *Kind {
	var ks []*Kind
	var ws []float64
	for _, k := range Kinds {
		if t == fashion.TypeUnknown || k.Type == t {
			ks = append(ks, k)
			ws = append(ws, k.weight)
		}
	}
	return ks[pick(r, ws...)]
}

// newItem draws an item of kind k.
func newItem(r *rand.Rand, k *Kind) *Item {
	it := &Item{Kind: k, Fit: 1}
	k.sample(r, it)
	if it.Fabric == Denim {
		it.Color = denimShades[r.IntN(len(denimShades))]
	} else {
		it.Color = r.IntN(len(palette))
	}
	it.Color2 = r.IntN(len(palette))
	for palette[it.Color2].name == palette[it.Color].name {
		it.Color2 = r.IntN(len(palette))
	}
	it.InnerColor = r.IntN(len(palette))
	it.PatScale = uniform(r, 9, 24)
	it.PatAngle = []float64{0, 1.5707963, 0.7853982, -0.7853982}[pick(r, 45, 30, 12, 13)]
	it.PatPhase = r.Float64()
	return it
}

// DF2Class maps an item to its DeepFashion2 class id (1..13), or 0 for the categories that
// DeepFashion2 does not label (jumpsuits and rompers).
func (it *Item) DF2Class() int {
	long := it.Sleeve >= 0.45
	switch it.Kind.Category.Name {
	case "Jacket", "Blazer", "Cardigan", "Coat":
		if long {
			return 4
		}
		return 3
	case "Shorts":
		return 7
	case "Skirt":
		return 9
	case "Jeans", "Leggings", "Joggers":
		return 8
	case "Dress":
		switch {
		case it.Sleeve == 0 && it.StrapW < 20:
			return 13
		case it.Sleeve == 0:
			return 12
		case long:
			return 11
		}
		return 10
	case "Jumpsuit", "Romper":
		return 0
	}
	switch {
	case it.Sleeve == 0 && it.StrapW < 20:
		return 6
	case it.Sleeve == 0:
		return 5
	case long:
		return 2
	}
	return 1
}
