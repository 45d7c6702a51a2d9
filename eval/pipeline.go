package eval

import (
	"slices"
	"sort"
)

// PipelineIoU is the overlap at which a reported garment is matched to a labeled one.
const PipelineIoU = 0.5

// PipelineLabel is a labeled garment of one image.
type PipelineLabel struct {
	Box [4]float32
	// Category is "" when the labels name no category of the model's vocabulary (DeepFashion2's
	// classes, Consumer-to-shop's garment types): the garment Type is scored in its place.
	Category string
	Type     string
	// Item is the product id, or "" when the garment has no product identity or the catalog
	// does not hold its product: its retrieval is then not scored.
	Item string
}

// PipelineGarment is a garment the pipeline reported.
type PipelineGarment struct {
	Box      [4]float32
	Score    float32
	Category string // the top-1 category
	Type     string
	// Items are the product ids of the nearest catalog items, nearest first.
	Items []string
}

// PipelineImage is one image's labeled garments and the garments the pipeline reported.
type PipelineImage struct {
	Labels   []PipelineLabel
	Garments []PipelineGarment
}

// PipelineResult is the end-to-end accuracy of detection, recognition and retrieval, counted
// per labeled garment. Every rate is over all labeled garments (a missed garment counts as
// wrong), except CategoryAccuracyMatched (over the detected ones) and the item rates (over the
// garments whose product the catalog holds); a rate without garments is null.
type PipelineResult struct {
	Images   int `json:"images"`
	Garments int `json:"garments"`
	// Items is the number of labeled garments whose product the catalog holds.
	Items int `json:"items"`
	// Categorized is the number of labeled garments whose category is scored; the others' type is.
	Categorized             int   `json:"categorized"`
	Detected                Value `json:"detected"`
	CategoryAccuracy        Value `json:"category_accuracy"`
	CategoryAccuracyMatched Value `json:"category_accuracy_matched"`
	ItemTop1                Value `json:"item_top1"`
	ItemTop5                Value `json:"item_top5"`
	// EndToEnd is the share of labeled garments detected with the right category and, when the
	// catalog holds their product, that product as the first hit.
	EndToEnd Value `json:"end_to_end"`
}

// PipelineReport is what `atelier eval pipeline --json` prints: the accuracy and the speed.
type PipelineReport struct {
	PipelineResult
	Seconds        float64 `json:"seconds"` // analysing and searching the street photos
	ImagesPerSec   float64 `json:"images_per_second"`
	CatalogItems   int     `json:"catalog_items"`   // shop garments in the index
	CatalogSeconds float64 `json:"catalog_seconds"` // analysing and indexing the shop photos
}

// Pipeline scores the pipeline's garments against the labels. In each image the garments are
// taken by decreasing score, each matched to the unmatched label of highest IoU if that IoU is
// at least PipelineIoU (as detection AP matches them).
func Pipeline(images []PipelineImage) PipelineResult {
	var detected, category, items, top1, top5, all int
	res := PipelineResult{Images: len(images)}
	for _, im := range images {
		order := make([]int, len(im.Garments))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return im.Garments[order[a]].Score > im.Garments[order[b]].Score })
		dets := make([]Detection, len(order))
		for i, g := range order {
			dets[i] = Detection{Box: im.Garments[g].Box, Score: im.Garments[g].Score}
		}
		boxes := make([][4]float32, len(im.Labels))
		for i, l := range im.Labels {
			boxes[i] = l.Box
		}
		matchOf := make([]int, len(im.Labels)) // label -> garment, or -1
		for i := range matchOf {
			matchOf[i] = -1
		}
		for i, l := range matchGreedy(dets, boxes, PipelineIoU) {
			if l >= 0 {
				matchOf[l] = order[i]
			}
		}
		for i, l := range im.Labels {
			res.Garments++
			if l.Category != "" {
				res.Categorized++
			}
			if l.Item != "" {
				items++
			}
			if matchOf[i] < 0 {
				continue
			}
			g := im.Garments[matchOf[i]]
			detected++
			catOK := g.Category == l.Category
			if l.Category == "" {
				catOK = g.Type == l.Type
			}
			if catOK {
				category++
			}
			itemOK := l.Item == ""
			if l.Item != "" {
				if len(g.Items) > 0 && g.Items[0] == l.Item {
					top1++
					itemOK = true
				}
				if slices.Contains(g.Items[:min(5, len(g.Items))], l.Item) {
					top5++
				}
			}
			if catOK && itemOK {
				all++
			}
		}
	}
	res.Items = items
	res.Detected = Value(ratio(detected, res.Garments))
	res.CategoryAccuracy = Value(ratio(category, res.Garments))
	res.CategoryAccuracyMatched = Value(ratio(category, detected))
	res.ItemTop1 = Value(ratio(top1, items))
	res.ItemTop5 = Value(ratio(top5, items))
	res.EndToEnd = Value(ratio(all, res.Garments))
	return res
}
