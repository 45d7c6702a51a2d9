package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/eval"
)

// TestPrintFashionNetAttributes checks that the text report names the attributes recalled least
// at 3, worst first.
func TestPrintFashionNetAttributes(t *testing.T) {
	r := &eval.FashionNetResult{Attributes: &eval.AttributeResult{
		RecallAtK: eval.RecallAtK{Top3: 0.4, Top5: 0.6},
		Images:    10,
		PerAttribute: []eval.AttributeRecall{
			{Name: "red", Type: "style", Positives: 4, RecallAtK: eval.RecallAtK{Top3: 0.75, Top5: 1}},
			{Name: "knit", Type: "fabric", Positives: 5, RecallAtK: eval.RecallAtK{Top3: 0.2, Top5: 0.4}},
			{Name: "pocket", Type: "part", Positives: 8, RecallAtK: eval.RecallAtK{Top3: 0.125, Top5: 0.5}},
			{Name: "striped", Type: "texture", Positives: 2, RecallAtK: eval.RecallAtK{Top3: 0.5, Top5: 0.5}},
		},
	}}
	var out bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetOut(&out)
	if err := printFashionNetResult(cmd, r); err != nil {
		t.Fatal(err)
	}
	want := "  least recalled at 3: pocket 0.1250 (8 positives), knit 0.2000 (5 positives), striped 0.5000 (2 positives)\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("report:\n%s\nlacks %q", out.String(), want)
	}
}
