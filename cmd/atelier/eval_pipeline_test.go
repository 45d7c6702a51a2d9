package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/dataset"
)

func TestEvalPipeline(t *testing.T) {
	bundle, inshop := writeRetrievalBundle(t)
	// The 50-image synthetic set of seed 7 has one validation pair: a shop photo of a pair of
	// trousers and a street photo of three garments, the trousers among them.
	scenes := filepath.Join(filepath.Dir(inshop), "scenes")
	args := []string{"eval", "pipeline", "--model", bundle, "--data", scenes, "--format", dataset.FormatDeepFashion2}

	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"format without shop and street photos", []string{"--format", dataset.FormatInShop}},
		{"no images", []string{"--images", "0"}},
		{"split without photos", []string{"--split", "test"}},
	} {
		if _, code := runCLI(t, append(slices.Clone(args), tc.extra...)...); code != 2 {
			t.Errorf("%s: exit %d, want 2", tc.name, code)
		}
	}

	// An untrained detector scores every box low: --min-score 1e-9 keeps its boxes so that the
	// catalog gets its garment and the street photo's garments are searched.
	stdout, code := runCLI(t, append(slices.Clone(args), "--images", "5", "--min-score", "1e-9", "--json")...)
	if code != 0 {
		t.Fatalf("eval pipeline: exit %d\n%s", code, stdout)
	}
	var res map[string]*float64
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || strings.Count(strings.TrimSpace(stdout), "\n") != 0 {
		t.Fatalf("eval pipeline --json printed %q: %v", stdout, err)
	}
	for field, want := range map[string]float64{"images": 1, "garments": 3, "items": 1, "catalog_items": 1} {
		if v := res[field]; v == nil || *v != want {
			t.Errorf("%s = %v, want %v", field, v, want)
		}
	}
	for _, field := range []string{"detected", "category_accuracy", "category_accuracy_matched", "item_top1", "item_top5", "end_to_end"} {
		v, ok := res[field]
		switch {
		case !ok:
			t.Errorf("no %q in %s", field, stdout)
		case field == "category_accuracy_matched" && v == nil && *res["detected"] == 0:
			// undefined without a detected garment
		case v == nil || *v < 0 || *v > 1:
			t.Errorf("%s = %v, want a rate in [0, 1]", field, v)
		}
	}
	for _, field := range []string{"seconds", "images_per_second", "catalog_seconds"} {
		if v := res[field]; v == nil || *v <= 0 {
			t.Errorf("%s = %v, want > 0", field, v)
		}
	}
}
