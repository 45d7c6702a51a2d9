package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/spf13/cobra"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/model/fashionnet"
	"github.com/atelier-ml/atelier/nn"
)

// evalFashionNet is "atelier eval fashionnet": category top-k, attribute recall, landmark NE and
// detection rates, In-shop and Consumer-to-shop top-k, each section present when the data
// labels it. With split test, In-shop data is evaluated on its query and gallery splits.
func evalFashionNet(cmd *cobra.Command, bundleDir, format, data, split string, asJSON bool) error {
	if err := checkFashionNetSplit(split); err != nil {
		return err
	}
	b, err := loadBundle(bundleDir)
	if err != nil {
		return badInput(err)
	}
	sets, backend, err := fashionNetInputs(format, data)
	if err != nil {
		return err
	}
	res, err := fashionnet.Evaluate(backend, b, sets, dataset.Split(split), cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
	}
	return printFashionNetResult(cmd, res)
}

// printFashionNetResult writes the metrics for a reader (nothing for nil: no held-out data).
func printFashionNetResult(cmd *cobra.Command, r *eval.FashionNetResult) error {
	if r == nil {
		return nil
	}
	out := cmd.OutOrStdout()
	f := func(v eval.Value) string { return fmt.Sprintf("%.4f", float64(v)) }
	if c := r.Category; c != nil {
		fmt.Fprintf(out, "category (%d garments): top-1 %s  top-3 %s  top-5 %s\n", c.N, f(c.Top1), f(c.Top3), f(c.Top5))
		for _, x := range c.Confusions[:min(3, len(c.Confusions))] {
			fmt.Fprintf(out, "  %s taken for %s: %d (%s of them)\n", x.True, x.Predicted, x.Count, f(x.Share))
		}
	}
	if a := r.Attributes; a != nil {
		fmt.Fprintf(out, "attributes (%d images): top-3 recall %s  top-5 recall %s\n", a.Images, f(a.Top3), f(a.Top5))
		for _, t := range []string{"texture", "fabric", "shape", "part", "style"} {
			if bt, ok := a.ByType[t]; ok {
				fmt.Fprintf(out, "  %-8s top-3 %s  top-5 %s\n", t, f(bt.Top3), f(bt.Top5))
			}
		}
		worst := slices.SortedStableFunc(slices.Values(a.PerAttribute), func(x, y eval.AttributeRecall) int {
			return cmp.Compare(x.Top3, y.Top3)
		})
		var least []string
		for _, x := range worst[:min(3, len(worst))] {
			least = append(least, fmt.Sprintf("%s %s (%d positives)", x.Name, f(x.Top3), x.Positives))
		}
		if len(least) > 0 {
			fmt.Fprintf(out, "  least recalled at 3: %s\n", strings.Join(least, ", "))
		}
	}
	if l := r.Landmarks; l != nil {
		fmt.Fprintf(out, "landmarks (%d points): NE %s\n", l.Count, f(l.NE))
	}
	for _, s := range []struct {
		name string
		r    *eval.RetrievalResult
	}{{"in-shop", r.InShop}, {"consumer-to-shop", r.C2S}} {
		if s.r != nil {
			fmt.Fprintf(out, "%s (%d queries): top-1 %s  top-5 %s  top-10 %s  top-20 %s  top-50 %s\n",
				s.name, s.r.Queries, f(s.r.Top1), f(s.r.Top5), f(s.r.Top10), f(s.r.Top20), f(s.r.Top50))
		}
	}
	return nil
}

// checkFashionNetSplit rejects a --split that FashionNet's datasets do not have, before any data
// is read.
func checkFashionNetSplit(split string) error {
	splits := []dataset.Split{dataset.Train, dataset.Val, dataset.Test, dataset.Query, dataset.Gallery}
	if !slices.Contains(splits, dataset.Split(split)) {
		return badInputf("unknown --split %q (known: %v)", split, splits)
	}
	return nil
}

// fashionNetInputs reads the datasets that eval and calibrate run FashionNet on and opens the
// compute backend.
func fashionNetInputs(format, data string) ([]*dataset.Dataset, compute.Backend, error) {
	sets, err := loadFashionNetData(format, data)
	if err != nil {
		return nil, nil, err
	}
	backend, _, err := nn.NewBackend()
	if err != nil {
		return nil, nil, err
	}
	return sets, backend, nil
}
