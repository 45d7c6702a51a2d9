package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/model/detector"
)

// TestBuiltinModel evaluates the bundle compiled into the binary, with no --model, on synthetic
// data of a seed that no training used. The floors sit a little under what the shipped networks
// measure on this set, so that a broken, untrained or swapped bundle fails; where the shipped
// model meets the thresholds of issues #5 and #6, the floor is that threshold. The figures on
// the larger held-out set, against every threshold, are in models/default/MODEL_CARD.md.
func TestBuiltinModel(t *testing.T) {
	dir := t.TempDir()
	if _, code := runCLI(t, "synth", "--out", dir, "--images", "1500", "--seed", "11"); code != 0 {
		t.Fatalf("synth: exit %d", code)
	}
	at := func(sub ...string) string {
		var s []string
		for _, x := range sub {
			s = append(s, filepath.Join(dir, x))
		}
		return strings.Join(s, ",")
	}
	type check struct {
		name string
		got  eval.Value
		ok   func(float64) bool
		want string
	}
	atLeast := func(b float64) func(float64) bool { return func(v float64) bool { return v >= b } }
	var checks []check

	out, code := runCLI(t, "eval", "fashionnet", "--data", at("attr", "inshop", "c2s"),
		"--format", "deepfashion-attr,deepfashion-inshop,deepfashion-c2s", "--json")
	var fn eval.FashionNetResult
	if err := json.Unmarshal([]byte(out), &fn); code != 0 || err != nil {
		t.Fatalf("eval fashionnet: exit %d, %v: %s", code, err, out)
	}
	if fn.Category == nil || fn.Attributes == nil || fn.Landmarks == nil || fn.InShop == nil || fn.C2S == nil {
		t.Fatalf("eval fashionnet: a section is missing: %s", out)
	}
	checks = append(checks,
		check{"category top-1", fn.Category.Top1, atLeast(0.60), ">= 0.60"},
		check{"category top-3", fn.Category.Top3, atLeast(0.95), ">= 0.95"},
		check{"attribute top-3 recall", fn.Attributes.Top3, atLeast(0.33), ">= 0.33"},
		check{"landmark NE", fn.Landmarks.NE, func(v float64) bool { return v <= 0.06 }, "<= 0.06"},
		check{"in-shop top-1", fn.InShop.Top1, atLeast(0.60), ">= 0.60"},
		check{"in-shop top-20", fn.InShop.Top20, atLeast(0.90), ">= 0.90"},
		check{"consumer-to-shop top-20", fn.C2S.Top20, atLeast(0.60), ">= 0.60"},
	)

	out, code = runCLI(t, "eval", "detector", "--data", at("scenes"), "--format", "deepfashion2", "--json")
	var det detector.Result
	if err := json.Unmarshal([]byte(out), &det); code != 0 || err != nil {
		t.Fatalf("eval detector: exit %d, %v: %s", code, err, out)
	}
	checks = append(checks, check{"detector mAP@0.5", det.MAP50, atLeast(0.85), ">= 0.85"})

	out, code = runCLI(t, "eval", "aligner", "--data", at("fld"), "--format", "deepfashion-fld", "--json")
	var al eval.AlignerResult
	if err := json.Unmarshal([]byte(out), &al); code != 0 || err != nil || len(al.NEByStage) != 3 {
		t.Fatalf("eval aligner: exit %d, %v: %s", code, err, out)
	}
	gain := 1 - float64(al.NE)/float64(al.NEByStage[0])
	checks = append(checks,
		check{"aligner NE", al.NE, func(v float64) bool { return v <= 0.05 }, "<= 0.05"},
		check{"aligner gain of stages 2-3 over stage 1", eval.Value(gain), atLeast(0.10), ">= 0.10"},
	)

	for _, c := range checks {
		t.Logf("%s = %.4f (floor %s)", c.name, float64(c.got), c.want)
		if !c.ok(float64(c.got)) {
			t.Errorf("built-in model: %s = %.4f, want %s", c.name, float64(c.got), c.want)
		}
	}
}
