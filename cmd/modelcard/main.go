// Command modelcard writes the model card of the built-in bundle (models/default/MODEL_CARD.md):
// what each network is, how it was trained, and its results on held-out data, from the bundles'
// bundle.json and the `atelier eval --json` documents that `make model-card` writes.
//
// Usage:
//
//	modelcard --bundle models/default --classifier models/fashion-mnist --eval out/eval --out models/default/MODEL_CARD.md
package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/detector"
)

func main() {
	fl := flag.NewFlagSet("modelcard", flag.ExitOnError)
	bundle := fl.String("bundle", "models/default", "pipeline bundle folder")
	classifier := fl.String("classifier", "models/fashion-mnist", "Fashion-MNIST classifier bundle folder")
	evalDir := fl.String("eval", "out/eval", "folder of the `atelier eval TASK --json` outputs, named TASK.json")
	out := fl.String("out", "", "Markdown file to write (default: stdout)")
	_ = fl.Parse(os.Args[1:]) // ExitOnError: bad flags exit with status 2.
	if fl.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "modelcard: unexpected arguments %q\n", fl.Args())
		os.Exit(2)
	}
	var buf bytes.Buffer
	err := generate(&buf, *bundle, *classifier, *evalDir)
	if err == nil && *out == "" {
		_, err = buf.WriteTo(os.Stdout)
	} else if err == nil {
		err = os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "modelcard: %v\n", err)
		os.Exit(1)
	}
}

// target is an acceptance threshold of issues #5 and #6; the zero target means "reported only".
type target struct {
	op    string // ">=", "<=" or ">"
	bound float64
}

func (t target) String() string {
	if t.op == "" {
		return "reported"
	}
	return fmt.Sprintf("%s %g", t.op, t.bound)
}

func (t target) met(v float64) bool {
	switch t.op {
	case ">=":
		return v >= t.bound
	case "<=":
		return v <= t.bound
	}
	return v > t.bound
}

func atLeast(b float64) target { return target{">=", b} }
func atMost(b float64) target  { return target{"<=", b} }

// row is one line of a results table.
type row struct{ Metric, Value, Target, Status string }

// table collects rows; a metric whose section or file is absent reads "not measured".
type table []row

func (tb *table) add(name string, v float64, measured bool, t target) {
	measured = measured && !math.IsNaN(v) // null in the eval JSON: undefined on this data
	r := row{Metric: name, Value: show(v, measured), Target: t.String()}
	switch {
	case !measured && t.op != "":
		r.Status = "not measured"
	case measured && t.op != "" && t.met(v):
		r.Status = "met"
	case measured && t.op != "":
		r.Status = "not met"
	}
	*tb = append(*tb, r)
}

// show formats a measured value to at most four decimals, or says it was not measured.
func show(v float64, measured bool) string {
	if !measured {
		return "not measured"
	}
	return strconv.FormatFloat(math.Round(v*1e4)/1e4, 'f', -1, 64)
}

// deref returns *p and whether p was set, so that absent sections read as not measured.
func deref[T any](p *T) (T, bool) {
	if p == nil {
		var zero T
		return zero, false
	}
	return *p, true
}

// readEval decodes dir/task.json into v, reporting false when the file does not exist.
func readEval(dir, task string, v any) (bool, error) {
	name := filepath.Join(dir, task+".json")
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", name, err)
	}
	return true, nil
}

// section is one network of the card.
type section struct {
	Title, About string
	Net          *model.Network
	// Runs are the trainings that Net continued (--init, Training.Earlier) and its own,
	// earliest first.
	Runs    []run
	Config  []string
	Bytes   int64
	Results table
}

// about says what each network is.
var about = map[string][2]string{
	model.TaskDetector:   {"Detector", "An anchor-free, single-shot detector in the style of CenterNet: one stride-8 map with a small feature pyramid folded in predicts, per garment type, a centre heatmap, box size and offset, decoded by peak finding and class-wise NMS. A geometric consistency pass then rescores boxes by how clothes are worn on one person."},
	model.TaskAligner:    {"Aligner", "A Deep Fashion Alignment (DFA) cascade that places eight fashion landmarks with their visibility. Stage 1 regresses them from the whole crop and classifies a pseudo-label (the k-means cluster of the landmark configuration); stages 2 and 3 refine each landmark from features sampled around the previous estimate."},
	model.TaskFashionNet: {"FashionNet", "FashionNet: a backbone with a global branch and a local branch that pools features at the predicted landmarks, fused to predict the category, the attributes (by one linear layer on the fused features, trained with the ranking loss or a weighted binary cross-entropy as attribute_loss says, or, when attribute_hidden is set, by a hidden layer on the fused features and the backbone's texture statistics, fitted by binary cross-entropy to the finished network's features with atelier train fashionnet --attr-head-only; their scores ranked by calibrated probability over base rate when attribute_calibration is set, fitted by atelier calibrate on photos the network did not train on, or else corrected by the training priors when attribute_adjust is set) and an identity embedding trained with a triplet loss on hard negatives (and an item-classification loss when weights.identity is set), used for in-shop and consumer-to-shop retrieval."},
	model.TaskClassifier: {"Fashion-MNIST classifier", "A small residual CNN (stages of 3x3 residual blocks, global pooling, one linear layer) over Fashion-MNIST's ten classes of 28x28 grey images; it checks the training stack on a public benchmark and is not part of the pipeline."},
}

// run is one training of a network; Title names its stage when there are several.
type run struct {
	Title string
	model.Training
}

// newSection describes the task's network of b (nil when b has none), with its checkpoint size.
func newSection(b *model.Bundle, dir, task string, results table) (*section, error) {
	n, ok := b.Networks[task]
	if !ok {
		return nil, nil
	}
	s := &section{Title: about[task][0], About: about[task][1], Net: n, Results: results}
	var err error
	if s.Config, err = configLines("", n.Config); err != nil {
		return nil, fmt.Errorf("%s: the %s network's config: %w", filepath.Join(dir, model.BundleFile), task, err)
	}
	if s.Bytes, err = size(filepath.Join(dir, filepath.FromSlash(n.Checkpoint))); err != nil {
		return nil, fmt.Errorf("sizing the %s checkpoint: %w", task, err)
	}
	for _, tr := range n.Training.Earlier {
		s.Runs = append(s.Runs, run{Training: tr})
	}
	s.Runs = append(s.Runs, run{Training: n.Training})
	if len(s.Runs) > 1 || n.Training.InitializedFrom != "" {
		for i := range s.Runs {
			s.Runs[i].Title = fmt.Sprintf("Stage %d", i+1)
			if from := s.Runs[i].InitializedFrom; from != "" {
				s.Runs[i].Title += fmt.Sprintf(", fine-tuning the network of `%s`", from)
			}
		}
	}
	return s, nil
}

// size is the total size of the files at or under name.
func size(name string) (int64, error) {
	var total int64
	err := filepath.WalkDir(name, func(_ string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	return total, err
}

// configLines flattens a network's JSON config into "key: value" lines, nested keys joined by
// dots; long lists (classes, centroids) are summarised by their length.
func configLines(prefix string, raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(compact.Bytes(), &m); err != nil {
		return nil, err
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if v[0] == '{' {
			sub, err := configLines(prefix+k+".", v)
			if err != nil {
				return nil, err
			}
			lines = append(lines, sub...)
			continue
		}
		var list []json.RawMessage
		if len(v) > 60 && json.Unmarshal(v, &list) == nil {
			v = json.RawMessage(fmt.Sprintf("%d entries", len(list)))
		}
		lines = append(lines, fmt.Sprintf("%s%s: %s", prefix, k, v))
	}
	return lines, nil
}

// published is one published reference figure next to ours on the same metric.
type published struct{ Work, Metric, Published, Ours string }

// card is what the template renders.
type card struct {
	BundleDir, ClassifierDir string
	Sections                 []*section
	Networks, Missing        []string
	Pipeline                 table
	Published                []published
	Bytes                    int64
	Categories, Attributes   int
	Marks                    int
	CategoryTypes, Inputs    []string
	Backends                 []string
	GPU                      bool
}

//go:embed card.md.tmpl
var cardText string

var cardTemplate = template.Must(template.New("card").Funcs(template.FuncMap{
	"join":    strings.Join,
	"mb":      func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) },
	"minutes": func(s float64) string { return fmt.Sprintf("%.1f", s/60) },
}).Parse(cardText))

// evals are the decoded `atelier eval --json` documents; ok says which files were there.
type evals struct {
	fn   eval.FashionNetResult
	det  detector.Result
	al   eval.AlignerResult
	pipe eval.PipelineReport
	cls  eval.ClassifierResult
	ok   map[string]bool
}

func readEvals(dir string) (*evals, error) {
	e := &evals{ok: map[string]bool{}}
	for task, v := range map[string]any{model.TaskFashionNet: &e.fn, model.TaskDetector: &e.det, model.TaskAligner: &e.al, "pipeline": &e.pipe, model.TaskClassifier: &e.cls} {
		var err error
		if e.ok[task], err = readEval(dir, task, v); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// generate writes the model card of the pipeline bundle in bundleDir and the classifier bundle in
// classifierDir, with the results of the eval documents in evalDir.
func generate(w io.Writer, bundleDir, classifierDir, evalDir string) error {
	b, err := model.Load(bundleDir)
	if err != nil {
		return fmt.Errorf("%s: %w", bundleDir, err)
	}
	cb, err := model.Load(classifierDir)
	if err != nil {
		return fmt.Errorf("%s: %w", classifierDir, err)
	}
	e, err := readEvals(evalDir)
	if err != nil {
		return err
	}
	c := card{BundleDir: bundleDir, ClassifierDir: classifierDir, Published: e.published(),
		Categories: len(b.Vocabulary.Categories), Attributes: len(b.Vocabulary.Attributes), Marks: len(b.Vocabulary.Landmarks)}
	for _, l := range b.Vocabulary.Categories {
		if !slices.Contains(c.CategoryTypes, l.Type) {
			c.CategoryTypes = append(c.CategoryTypes, l.Type)
		}
	}
	if c.Bytes, err = size(filepath.Join(bundleDir, model.BundleFile)); err != nil {
		return err
	}
	if e.ok["pipeline"] {
		c.Pipeline = e.pipelineRows()
	}
	for _, s := range []struct {
		b    *model.Bundle
		dir  string
		task string
		t    table
	}{
		{b, bundleDir, model.TaskDetector, e.detectorRows()},
		{b, bundleDir, model.TaskAligner, e.alignerRows()},
		{b, bundleDir, model.TaskFashionNet, e.fashionNetRows()},
		{cb, classifierDir, model.TaskClassifier, e.classifierRows()},
	} {
		sec, err := newSection(s.b, s.dir, s.task, s.t)
		if err != nil {
			return err
		}
		if sec == nil {
			c.Missing = append(c.Missing, s.task)
			continue
		}
		c.Sections = append(c.Sections, sec)
		if s.b == b {
			c.Bytes += sec.Bytes
			c.Networks = append(c.Networks, sec.Title)
			c.Inputs = append(c.Inputs, fmt.Sprintf("%s %dx%d px", s.task, sec.Net.InputSize[0], sec.Net.InputSize[1]))
		}
		for _, r := range sec.Runs { // every stage: an earlier one may have run elsewhere
			if be := r.Backend; !slices.Contains(c.Backends, be) {
				c.Backends = append(c.Backends, be)
				c.GPU = c.GPU || strings.Contains(be, "cuda")
			}
		}
	}
	return cardTemplate.Execute(w, c)
}

// The targets below are the acceptance thresholds of issues #5 (FashionNet, classifier) and #6
// (detector, aligner, pipeline).

func (e *evals) detectorRows() table {
	var tb table
	d, ok := e.det, e.ok[model.TaskDetector]
	tb.add("mAP@0.5", float64(d.MAP50), ok, atLeast(0.85))
	tb.add("mAP@[.5:.95]", float64(d.MAP), ok, target{})
	tb.add("mAP@0.5 without the geometric pass", float64(d.Geometry.MAP50Without), ok, target{})
	tb.add("geometric pass: change of mAP@0.5", float64(d.Geometry.DeltaMAP50), ok, target{})
	for _, name := range slices.Sorted(maps.Keys(d.PerClass)) {
		tb.add("AP@0.5 "+name, float64(d.PerClass[name].AP50), true, target{})
	}
	return tb
}

func (e *evals) alignerRows() table {
	var tb table
	a := e.al
	tb.add("NE after the cascade", float64(a.NE), e.ok[model.TaskAligner], atMost(0.05))
	for i, ne := range a.NEByStage {
		tb.add(fmt.Sprintf("NE after stage %d", i+1), float64(ne), true, target{})
	}
	if n := len(a.NEByStage); n > 1 {
		tb.add(fmt.Sprintf("relative gain of stage %d over stage 1", n), 1-float64(a.NEByStage[n-1]/a.NEByStage[0]), true, atLeast(0.10))
	}
	for _, v := range slices.Sorted(maps.Keys(a.ByVariation)) {
		tb.add("NE, variation "+v, float64(a.ByVariation[v]), true, target{})
	}
	return tb
}

func (e *evals) fashionNetRows() table {
	var tb table
	cat, okCat := deref(e.fn.Category)
	attr, okAttr := deref(e.fn.Attributes)
	lm, okLM := deref(e.fn.Landmarks)
	in, okIn := deref(e.fn.InShop)
	c2s, okC2S := deref(e.fn.C2S)
	tb.add("category top-1", float64(cat.Top1), okCat, atLeast(0.85))
	tb.add("category top-3", float64(cat.Top3), okCat, atLeast(0.95))
	tb.add("category top-5", float64(cat.Top5), okCat, target{})
	tb.add("attribute top-3 recall", float64(attr.Top3), okAttr, atLeast(0.60))
	tb.add("attribute top-5 recall", float64(attr.Top5), okAttr, target{})
	for _, t := range slices.Sorted(maps.Keys(attr.ByType)) {
		tb.add("attribute top-3 recall, "+t, float64(attr.ByType[t].Top3), true, target{})
	}
	tb.add("landmark NE", float64(lm.NE), okLM, atMost(0.06))
	tb.add("in-shop top-1", float64(in.Top1), okIn, atLeast(0.60))
	tb.add("in-shop top-20", float64(in.Top20), okIn, atLeast(0.90))
	tb.add("consumer-to-shop top-1", float64(c2s.Top1), okC2S, target{})
	tb.add("consumer-to-shop top-20", float64(c2s.Top20), okC2S, atLeast(0.60))
	return tb
}

func (e *evals) classifierRows() table {
	var tb table
	tb.add("test accuracy", e.cls.Accuracy, e.ok[model.TaskClassifier], atLeast(0.93))
	for _, name := range slices.Sorted(maps.Keys(e.cls.PerClass)) {
		tb.add("accuracy, "+name, e.cls.PerClass[name], true, target{})
	}
	return tb
}

// pipelineRows is the table of `atelier eval pipeline`: most garments must be right end to end.
func (e *evals) pipelineRows() table {
	var tb table
	p := e.pipe
	tb.add("images", float64(p.Images), true, target{})
	tb.add("garments labelled", float64(p.Garments), true, target{})
	tb.add("garments with a catalog item", float64(p.Items), true, target{})
	tb.add("share of garments detected", float64(p.Detected), true, target{})
	tb.add("garments scored by category (the others by type)", float64(p.Categorized), true, target{})
	tb.add("category or type accuracy (all garments)", float64(p.CategoryAccuracy), true, target{})
	tb.add("category or type accuracy (detected garments)", float64(p.CategoryAccuracyMatched), true, target{})
	tb.add("item top-1", float64(p.ItemTop1), true, target{})
	tb.add("item top-5", float64(p.ItemTop5), true, target{})
	tb.add("end-to-end accuracy (garment, category and item right)", float64(p.EndToEnd), true, target{">", 0.5})
	tb.add("images per second", p.ImagesPerSec, true, target{})
	tb.add("catalog items indexed", float64(p.CatalogItems), true, target{})
	tb.add("catalog indexing seconds", p.CatalogSeconds, true, target{})
	return tb
}

// published sets our figures next to the papers' (as the project's DeepFashion format notes cite
// them), in the papers' units.
func (e *evals) published() []published {
	pct := func(v eval.Value, measured bool) string {
		if !measured {
			return show(0, false)
		}
		return fmt.Sprintf("%.2f", 100*float64(v))
	}
	cat, okCat := deref(e.fn.Category)
	attr, okAttr := deref(e.fn.Attributes)
	lm, okLM := deref(e.fn.Landmarks)
	in, okIn := deref(e.fn.InShop)
	c2s, okC2S := deref(e.fn.C2S)
	const fnCA = "FashionNet (CVPR 2016), Category & Attribute"
	return []published{
		{fnCA, "category top-3 (%)", "82.58", pct(cat.Top3, okCat)},
		{fnCA, "category top-5 (%)", "90.17", pct(cat.Top5, okCat)},
		{fnCA, "attribute top-3 recall (%)", "45.52", pct(attr.Top3, okAttr)},
		{fnCA, "attribute top-5 recall (%)", "54.61", pct(attr.Top5, okAttr)},
		{"FashionNet (CVPR 2016), DeepFashion-C", "landmark NE", "0.0872", show(float64(lm.NE), okLM)},
		{"FashionNet (CVPR 2016), In-shop", "R@1 (%)", "53.0", pct(in.Top1, okIn)},
		{"FashionNet (CVPR 2016), In-shop", "R@20 (%)", "76.0", pct(in.Top20, okIn)},
		{"DFA (ECCV 2016), FLD", "landmark NE", "0.0680", show(float64(e.al.NE), e.ok[model.TaskAligner])},
		{"Match R-CNN (DeepFashion2 val, 13 classes)", "box AP50", "0.814", show(float64(e.det.MAP50), e.ok[model.TaskDetector])},
		{"Match R-CNN (DeepFashion2, ground-truth boxes)", "consumer-to-shop top-20", "0.665", show(float64(c2s.Top20), okC2S)},
	}
}
