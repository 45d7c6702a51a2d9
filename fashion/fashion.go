// Package fashion holds the vocabulary shared by every part of atelier: the DeepFashion garment
// types and categories, the attribute types, the eight fashion landmarks and the DeepFashion2
// classes. It has no dependencies so that every other package can use it.
package fashion

import "fmt"

// GarmentType is DeepFashion's clothes_type: where on the body a garment is worn.
type GarmentType int

// The garment types, numbered as in DeepFashion's list files (0 means unknown).
const (
	TypeUnknown GarmentType = 0
	Upper       GarmentType = 1
	Lower       GarmentType = 2
	Full        GarmentType = 3
)

// GarmentTypes lists the known garment types in id order.
var GarmentTypes = []GarmentType{Upper, Lower, Full}

// String returns "upper", "lower", "full" or "unknown".
func (t GarmentType) String() string {
	switch t {
	case Upper:
		return "upper"
	case Lower:
		return "lower"
	case Full:
		return "full"
	}
	return "unknown"
}

// ParseGarmentType accepts the names that String returns.
func ParseGarmentType(s string) (GarmentType, error) {
	for _, t := range GarmentTypes {
		if t.String() == s {
			return t, nil
		}
	}
	return TypeUnknown, fmt.Errorf("unknown garment type %q (want upper, lower or full)", s)
}

// Category is one DeepFashion clothing category. ID is 1-based, in list_category_cloth.txt order.
type Category struct {
	ID   int
	Name string
	Type GarmentType
}

// Categories are the 50 categories of the Category and Attribute Prediction benchmark, in id order.
var Categories = buildCategories()

func buildCategories() []Category {
	upper := []string{"Anorak", "Blazer", "Blouse", "Bomber", "Button-Down", "Cardigan", "Flannel",
		"Halter", "Henley", "Hoodie", "Jacket", "Jersey", "Parka", "Peacoat", "Poncho", "Sweater",
		"Tank", "Tee", "Top", "Turtleneck"}
	lower := []string{"Capris", "Chinos", "Culottes", "Cutoffs", "Gauchos", "Jeans", "Jeggings",
		"Jodhpurs", "Joggers", "Leggings", "Sarong", "Shorts", "Skirt", "Sweatpants", "Sweatshorts",
		"Trunks"}
	full := []string{"Caftan", "Cape", "Coat", "Coverup", "Dress", "Jumpsuit", "Kaftan", "Kimono",
		"Nightdress", "Onesie", "Robe", "Romper", "Shirtdress", "Sundress"}
	var cs []Category
	for _, g := range []struct {
		t     GarmentType
		names []string
	}{{Upper, upper}, {Lower, lower}, {Full, full}} {
		for _, n := range g.names {
			cs = append(cs, Category{ID: len(cs) + 1, Name: n, Type: g.t})
		}
	}
	return cs
}

// CategoryByName returns the DeepFashion category with that exact name.
func CategoryByName(name string) (Category, bool) {
	for _, c := range Categories {
		if c.Name == name {
			return c, true
		}
	}
	return Category{}, false
}

// AttributeType is DeepFashion's attribute_type.
type AttributeType int

// The five attribute types, numbered as in list_attr_cloth.txt.
const (
	Texture AttributeType = 1
	Fabric  AttributeType = 2
	Shape   AttributeType = 3
	Part    AttributeType = 4
	Style   AttributeType = 5
)

// AttributeTypes lists the attribute types in id order.
var AttributeTypes = []AttributeType{Texture, Fabric, Shape, Part, Style}

// String returns the lower-case name used in JSON output ("texture", "fabric", ...).
func (t AttributeType) String() string {
	switch t {
	case Texture:
		return "texture"
	case Fabric:
		return "fabric"
	case Shape:
		return "shape"
	case Part:
		return "part"
	case Style:
		return "style"
	}
	return "unknown"
}

// Attribute is one entry of an attribute vocabulary. ID is 1-based, in file order.
type Attribute struct {
	ID   int
	Name string
	Type AttributeType
}

// Vocabulary is the label space of one dataset or model: its categories and attributes, in id order
// (Categories[i].ID == i+1). Readers fill it from the dataset's own list files; bundles store it.
type Vocabulary struct {
	Categories []Category
	Attributes []Attribute
}

// DefaultVocabulary has the 50 DeepFashion categories and no attributes.
func DefaultVocabulary() Vocabulary {
	return Vocabulary{Categories: append([]Category(nil), Categories...)}
}

// Category returns the category with a 1-based id.
func (v Vocabulary) Category(id int) (Category, bool) {
	if id < 1 || id > len(v.Categories) {
		return Category{}, false
	}
	return v.Categories[id-1], true
}

// Attribute returns the attribute with a 1-based id.
func (v Vocabulary) Attribute(id int) (Attribute, bool) {
	if id < 1 || id > len(v.Attributes) {
		return Attribute{}, false
	}
	return v.Attributes[id-1], true
}
