package synth

import (
	"image/color"

	"github.com/atelier-ml/atelier/fashion"
)

// Pattern is the printed texture of a garment's fabric.
type Pattern int

// The patterns; Solid is no print at all.
const (
	Solid Pattern = iota
	Striped
	Dotted
	Floral
	Plaid
	AbstractPrint
	Colorblock
	Graphic
)

// patternNames are the DeepFashion texture attribute names of the patterns.
var patternNames = [...]string{"solid", "striped", "dotted", "floral", "plaid", "abstract print", "colorblock", "graphic"}

// String returns the pattern's attribute name, e.g. "abstract print".
func (p Pattern) String() string { return patternNames[p] }

// Fabric is the material, rendered as texture and shading.
type Fabric int

// The fabrics; Cotton is the plain woven default.
const (
	Cotton Fabric = iota
	Denim
	Knit
	Leather
	Lace
	Chiffon
	Sequin
)

// fabricNames are the DeepFashion fabric attribute names of the fabrics.
var fabricNames = [...]string{"cotton", "denim", "knit", "leather", "lace", "chiffon", "sequin"}

// String returns the fabric's attribute name, e.g. "chiffon".
func (f Fabric) String() string { return fabricNames[f] }

// Neckline is the shape of a garment's neck opening.
type Neckline int

// The necklines; NoNeck is for lower-body garments.
const (
	NoNeck Neckline = iota
	CrewNeck
	VNeck
	ScoopNeck
	ShirtCollar
	Lapel
	Hood
	Turtleneck
)

// paletteColor is one named colour; several shades share a name so that colour alone does not
// identify an item.
type paletteColor struct {
	name string
	c    color.RGBA
}

// palette holds the garment colours. The names are the colour attributes of the vocabulary.
var palette = []paletteColor{
	{"black", color.RGBA{28, 28, 32, 255}}, {"black", color.RGBA{45, 42, 40, 255}},
	{"white", color.RGBA{236, 234, 228, 255}}, {"white", color.RGBA{222, 226, 230, 255}},
	{"grey", color.RGBA{128, 128, 132, 255}}, {"grey", color.RGBA{170, 168, 160, 255}}, {"grey", color.RGBA{88, 92, 98, 255}},
	{"red", color.RGBA{178, 34, 40, 255}}, {"red", color.RGBA{130, 24, 40, 255}}, {"red", color.RGBA{214, 72, 60, 255}},
	{"pink", color.RGBA{232, 150, 170, 255}}, {"pink", color.RGBA{214, 90, 140, 255}},
	{"yellow", color.RGBA{232, 200, 70, 255}}, {"yellow", color.RGBA{210, 170, 40, 255}},
	{"green", color.RGBA{60, 120, 70, 255}}, {"green", color.RGBA{110, 130, 70, 255}}, {"green", color.RGBA{70, 160, 140, 255}},
	{"blue", color.RGBA{40, 70, 150, 255}}, {"blue", color.RGBA{110, 150, 200, 255}}, {"blue", color.RGBA{30, 40, 80, 255}},
	{"purple", color.RGBA{110, 60, 140, 255}}, {"purple", color.RGBA{170, 130, 190, 255}},
	{"brown", color.RGBA{120, 80, 50, 255}}, {"brown", color.RGBA{196, 164, 120, 255}}, {"brown", color.RGBA{160, 100, 60, 255}},
}

// denimShades are the palette indices that denim comes in.
var denimShades = []int{17, 18, 19, 0, 4}

// colorNames are the colour attributes in vocabulary order.
var colorNames = []string{"black", "white", "grey", "red", "pink", "yellow", "green", "blue", "purple", "brown"}

// attrDef is one attribute of the synthetic vocabulary with the rule that labels it.
type attrDef struct {
	name string
	typ  fashion.AttributeType
	// needs is the part that must be visible for the label to be knowable in a view (the
	// sleeve, hem and collar parts by their landmarks, the others by a point on the garment);
	// anyPart means the label is known whenever the garment is in the picture.
	needs anchor
	// has says whether the item has the attribute.
	has func(it *Item) bool
}

// repeat is the period, in canonical units, of the fine pattern by which a photo shows that an
// item has the attribute (its print for a texture, its fabric's weave for a fabric), or 0 when
// nothing finer than the garment's parts shows it.
func (d attrDef) repeat(it *Item) float64 {
	switch d.typ {
	case fashion.Texture:
		return printRepeat(it)
	case fashion.Fabric:
		return fabricRepeat(it)
	}
	return 0
}

// anchor is a part of a garment whose visibility decides whether an attribute is knowable.
type anchor int

const (
	anyPart anchor = iota
	sleeveAnchor
	hemAnchor
	collarAnchor
	frontAnchor // centre front at chest or fly: buttons, zippers
	pocketAnchor
	waistAnchor
)

func isTop(it *Item) bool { return it.Kind.Type != fashion.Lower }

// attrDefs is the attribute vocabulary, in id order, with DeepFashion's names.
var attrDefs = buildAttrDefs()

func buildAttrDefs() []attrDef {
	pat := func(p Pattern) func(*Item) bool { return func(it *Item) bool { return it.Pattern == p } }
	fab := func(f Fabric) func(*Item) bool { return func(it *Item) bool { return it.Fabric == f } }
	neck := func(n ...Neckline) func(*Item) bool {
		return func(it *Item) bool {
			for _, m := range n {
				if it.Neck == m {
					return true
				}
			}
			return false
		}
	}
	skirted := func(it *Item) bool { return it.Kind.Skirt }
	var defs []attrDef
	for p := Striped; p <= Graphic; p++ {
		defs = append(defs, attrDef{patternNames[p], fashion.Texture, anyPart, pat(p)})
	}
	for f := Denim; f <= Sequin; f++ {
		defs = append(defs, attrDef{fabricNames[f], fashion.Fabric, anyPart, fab(f)})
	}
	defs = append(defs, []attrDef{
		{"sleeveless", fashion.Shape, sleeveAnchor, func(it *Item) bool { return isTop(it) && it.Sleeve == 0 }},
		{"short sleeve", fashion.Shape, sleeveAnchor, func(it *Item) bool { return isTop(it) && it.Sleeve > 0 && it.Sleeve < 0.45 }},
		{"long sleeve", fashion.Shape, sleeveAnchor, func(it *Item) bool { return isTop(it) && it.Sleeve >= 0.85 }},
		{"mini", fashion.Shape, hemAnchor, func(it *Item) bool { return skirted(it) && it.HemY < miniMaxY }},
		{"midi", fashion.Shape, hemAnchor, func(it *Item) bool { return skirted(it) && it.HemY >= miniMaxY && it.HemY < midiMaxY }},
		{"maxi", fashion.Shape, hemAnchor, func(it *Item) bool { return skirted(it) && it.HemY >= midiMaxY }},
		{"a-line", fashion.Shape, hemAnchor, func(it *Item) bool { return skirted(it) && it.Flare >= 0.2 }},
		{"fitted", fashion.Shape, anyPart, func(it *Item) bool { return it.Fit <= 1.0 }},
		{"loose", fashion.Shape, anyPart, func(it *Item) bool { return it.Fit >= 1.2 }},
		{"skinny", fashion.Shape, hemAnchor, func(it *Item) bool { return it.Kind.Legs && it.LegHem <= 26 }},
		{"wide-leg", fashion.Shape, hemAnchor, func(it *Item) bool { return it.Kind.Legs && it.LegHem >= 46 }},
		{"cropped", fashion.Shape, hemAnchor, func(it *Item) bool { return it.Kind.Type == fashion.Upper && it.HemY < croppedMaxY }},
		{"crew neck", fashion.Part, collarAnchor, neck(CrewNeck)},
		{"v-neck", fashion.Part, collarAnchor, neck(VNeck)},
		{"scoop neck", fashion.Part, collarAnchor, neck(ScoopNeck)},
		{"collar", fashion.Part, collarAnchor, neck(ShirtCollar, Lapel)},
		{"hooded", fashion.Part, collarAnchor, neck(Hood)},
		{"turtleneck", fashion.Part, collarAnchor, neck(Turtleneck)},
		{"pocket", fashion.Part, pocketAnchor, func(it *Item) bool { return it.Pockets }},
		{"button", fashion.Part, frontAnchor, func(it *Item) bool { return it.Buttons > 0 }},
		{"zipper", fashion.Part, frontAnchor, func(it *Item) bool { return it.Zipper }},
		{"drawstring", fashion.Part, anyPart, func(it *Item) bool { return it.Drawstring }},
		{"belted", fashion.Part, waistAnchor, func(it *Item) bool { return it.Belt }},
	}...)
	for _, name := range colorNames {
		defs = append(defs, attrDef{name, fashion.Style, anyPart, func(it *Item) bool {
			return palette[it.Color].name == name || (it.Pattern == Colorblock && palette[it.Color2].name == name)
		}})
	}
	defs = append(defs,
		attrDef{"summer", fashion.Style, anyPart, func(it *Item) bool {
			light := it.Fabric == Chiffon || it.Fabric == Lace || it.Fabric == Cotton
			if !isTop(it) {
				return light && it.HemY < miniMaxY
			}
			return light && it.Sleeve < 0.45 && it.Neck != Hood && it.Neck != Turtleneck
		}},
		attrDef{"boho", fashion.Style, anyPart, func(it *Item) bool {
			printed := it.Pattern == Floral || it.Pattern == AbstractPrint
			return printed && (it.Fabric == Chiffon || it.Fabric == Lace || it.Flare >= 0.35 || it.HemY >= midiMaxY && it.Kind.Skirt)
		}},
	)
	return defs
}

// Hem heights (canonical units, 1000 = head to feet) that separate the length attributes.
const (
	miniMaxY    = 690 // above the knee
	midiMaxY    = 860 // above mid-calf
	croppedMaxY = 420 // an upper garment ending at the natural waist
)

// Attributes returns the attribute vocabulary of synthetic data, in id order (IDs from 1).
func Attributes() []fashion.Attribute {
	out := make([]fashion.Attribute, len(attrDefs))
	for i, d := range attrDefs {
		out[i] = fashion.Attribute{ID: i + 1, Name: d.name, Type: d.typ}
	}
	return out
}

// Vocabulary is the label space of synthetic data: DeepFashion's 50 categories (so ids match the
// real benchmark) and the attributes of Attributes.
func Vocabulary() fashion.Vocabulary {
	v := fashion.DefaultVocabulary()
	v.Attributes = Attributes()
	return v
}
