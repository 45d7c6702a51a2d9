// Package dataset reads, validates and writes the DeepFashion-family datasets (Category and
// Attribute, In-shop, Consumer-to-shop, FLD, DeepFashion2) and Fashion-MNIST into one sample type.
package dataset

import "github.com/atelier-ml/atelier/fashion"

// The formats atelier reads, as named on the command line.
const (
	FormatAttr         = "deepfashion-attr"
	FormatInShop       = "deepfashion-inshop"
	FormatC2S          = "deepfashion-c2s"
	FormatFLD          = "deepfashion-fld"
	FormatDeepFashion2 = "deepfashion2"
	FormatFashionMNIST = "fashion-mnist"
)

// Formats lists every format name in a stable order.
var Formats = []string{FormatAttr, FormatInShop, FormatC2S, FormatFLD, FormatDeepFashion2, FormatFashionMNIST}

// Split is an evaluation partition: "train", "val", "test", "query" or "gallery".
type Split string

// The splits that DeepFashion's partition files use.
const (
	Train   Split = "train"
	Val     Split = "val"
	Test    Split = "test"
	Query   Split = "query"
	Gallery Split = "gallery"
)

// Source says whether a photo comes from a shop or from a consumer (street photo); the values are
// DeepFashion's source_type.
type Source int

// The sources.
const (
	SourceUnknown  Source = 0
	SourceShop     Source = 1
	SourceConsumer Source = 2
)

// Visibility is DeepFashion's landmark visibility: 0 visible, 1 occluded, 2 truncated.
// Any non-zero value counts as not visible for training; the value is kept as read.
type Visibility int8

// The visibility values.
const (
	Visible   Visibility = 0
	Occluded  Visibility = 1
	Truncated Visibility = 2
)

// Point is one landmark. Labeled is false for a slot that the garment's type does not use
// (or that DeepFashion2 marks v=0); X, Y are pixels in the stored image.
type Point struct {
	X, Y    float32
	Vis     Visibility
	Labeled bool
}

// Garment is one piece of clothing in an image.
type Garment struct {
	// Box is x1, y1, x2, y2 in pixels; HasBox is false where the dataset gives no box.
	Box    [4]float32
	HasBox bool
	// Category is the 1-based id in the dataset's vocabulary (DeepFashion's 50 categories, or the
	// DeepFashion2 class 1..13 for that format); 0 when unknown.
	Category int
	Type     fashion.GarmentType
	// Landmarks holds the eight DeepFashion slots (fashion.Landmark order).
	Landmarks [fashion.NumLandmarks]Point
	// DF2Landmarks holds DeepFashion2's per-class landmarks (x, y, v in file order), nil elsewhere.
	DF2Landmarks []Point
	// Attributes holds one label per vocabulary attribute: +1 positive, -1 negative, 0 unknown.
	// Nil when the dataset has no attribute labels.
	Attributes []int8
	// ItemID identifies the product (In-shop and Consumer-to-shop item_id; DeepFashion2
	// "pair_id/style" when style > 0); empty when unknown.
	ItemID string
	// Style is DeepFashion2's style (0 = no product identity).
	Style int
	// Pose is In-shop's pose_type; Variation is FLD's/In-shop's variation_type (0 when absent).
	Pose      int
	Variation int
	// Occlusion, Scale, ZoomIn and Viewpoint are DeepFashion2's per-garment difficulty fields.
	Occlusion, Scale, ZoomIn, Viewpoint int
}

// Sample is one image with its garments. Image is the path relative to the dataset root, exactly
// as the list files spell it; Width and Height are 0 until the image has been looked at.
type Sample struct {
	Image         string
	Width, Height int
	Garments      []Garment
	Source        Source
	PairID        int
	Split         Split
	// Pixels holds the image itself for datasets stored as arrays (Fashion-MNIST: 28x28 grey,
	// row-major); nil where the image is a file.
	Pixels []uint8
}
