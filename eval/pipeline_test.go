package eval

import (
	"math"
	"testing"
)

func TestPipeline(t *testing.T) {
	nan := math.NaN()
	box := func(x, y, s float32) [4]float32 { return [4]float32{x, y, x + s, y + s} }
	for _, tc := range []struct {
		name   string
		images []PipelineImage
		want   PipelineResult
		rates  [6]float64 // detected, category, category of matched, item top-1, top-5, end-to-end
	}{{
		// Image 1: a tee whose product is second in the hits (wrong item, right within top-5), a
		// skirt without product called a dress (wrong category), and a false positive.
		// Image 2: a tee missed (IoU 25/175 with the only box near it), a dress found with its
		// product first. So 3 of 4 detected, 2 right categories, products 1 of 3 at top-1, 2 of 3
		// at top-5, and only the dress right end to end.
		name: "missed, wrong category, wrong item, right",
		images: []PipelineImage{{
			Labels: []PipelineLabel{
				{Box: box(0, 0, 10), Category: "tee", Item: "1/1"},
				{Box: box(20, 0, 10), Category: "skirt"},
			},
			Garments: []PipelineGarment{
				{Box: box(20, 0, 10), Score: 0.8, Category: "dress"},
				{Box: box(0, 0, 10), Score: 0.9, Category: "tee", Items: []string{"2/1", "1/1"}},
				{Box: box(50, 50, 10), Score: 0.95, Category: "tee", Items: []string{"1/1"}},
			},
		}, {
			Labels: []PipelineLabel{
				{Box: box(0, 0, 10), Category: "tee", Item: "3/1"},
				{Box: box(20, 20, 20), Category: "dress", Item: "4/1"},
			},
			Garments: []PipelineGarment{
				{Box: box(5, 5, 10), Score: 0.9, Category: "tee", Items: []string{"3/1"}},
				{Box: box(21, 21, 19), Score: 0.7, Category: "dress", Items: []string{"4/1", "1/1"}},
			},
		}},
		want:  PipelineResult{Images: 2, Garments: 4, Items: 3, Categorized: 4},
		rates: [6]float64{3.0 / 4, 2.0 / 4, 2.0 / 3, 1.0 / 3, 2.0 / 3, 1.0 / 4},
	}, {
		// Two boxes on one label: the higher score takes it (listed second, so the order of the
		// input does not decide), and its wrong category and item count; the right one is left
		// as a false positive. The product is the sixth hit: outside the top-5.
		name: "greedy by score",
		images: []PipelineImage{{
			Labels: []PipelineLabel{{Box: box(0, 0, 10), Category: "tee", Item: "1/1"}},
			Garments: []PipelineGarment{
				{Box: box(0, 0, 10), Score: 0.5, Category: "tee", Items: []string{"1/1"}},
				{Box: box(1, 0, 10), Score: 0.6, Category: "top", Items: []string{"a", "b", "c", "d", "e", "1/1"}},
			},
		}},
		want:  PipelineResult{Images: 1, Garments: 1, Items: 1, Categorized: 1},
		rates: [6]float64{1, 0, 0, 0, 0, 0},
	}, {
		// Without products in the catalog, a detected garment of the right category is right
		// end to end and the item rates are undefined.
		name: "no products",
		images: []PipelineImage{{
			Labels:   []PipelineLabel{{Box: box(0, 0, 10), Category: "tee"}},
			Garments: []PipelineGarment{{Box: box(0, 0, 10), Score: 0.5, Category: "tee"}},
		}},
		want:  PipelineResult{Images: 1, Garments: 1, Categorized: 1},
		rates: [6]float64{1, 1, 1, nan, nan, 1},
	}, {
		// Labels without a category of the model's (DeepFashion2's classes): the type is scored,
		// so the upper garment is right and the lower one, reported as full, is wrong.
		name: "types where no category",
		images: []PipelineImage{{
			Labels: []PipelineLabel{{Box: box(0, 0, 10), Type: "upper"}, {Box: box(20, 0, 10), Type: "lower"}},
			Garments: []PipelineGarment{
				{Box: box(0, 0, 10), Score: 0.9, Category: "Tee", Type: "upper"},
				{Box: box(20, 0, 10), Score: 0.8, Category: "Dress", Type: "full"},
			},
		}},
		want:  PipelineResult{Images: 1, Garments: 2},
		rates: [6]float64{1, 0.5, 0.5, nan, nan, 0.5},
	}, {
		name:   "no labels",
		images: []PipelineImage{{Garments: []PipelineGarment{{Box: box(0, 0, 10), Score: 0.5, Category: "tee"}}}},
		want:   PipelineResult{Images: 1},
		rates:  [6]float64{nan, nan, nan, nan, nan, nan},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := Pipeline(tc.images)
			if got.Categorized != tc.want.Categorized {
				t.Errorf("categorized %d, want %d", got.Categorized, tc.want.Categorized)
			}
			if got.Images != tc.want.Images || got.Garments != tc.want.Garments || got.Items != tc.want.Items {
				t.Errorf("images %d, garments %d, items %d; want %d, %d, %d", got.Images, got.Garments, got.Items,
					tc.want.Images, tc.want.Garments, tc.want.Items)
			}
			rates := []Value{got.Detected, got.CategoryAccuracy, got.CategoryAccuracyMatched, got.ItemTop1, got.ItemTop5, got.EndToEnd}
			names := []string{"detected", "category_accuracy", "category_accuracy_matched", "item_top1", "item_top5", "end_to_end"}
			for i, r := range rates {
				g, w := float64(r), tc.rates[i]
				if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > 1e-12 {
					t.Errorf("%s = %v, want %v", names[i], g, w)
				}
			}
		})
	}
}
