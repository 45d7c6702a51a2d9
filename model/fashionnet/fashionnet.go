// Package fashionnet is atelier's FashionNet: a backbone from package nn whose features feed
// (a) a global branch, (b) a landmark branch that predicts the eight fashion landmarks and their
// visibility, and (c) landmark pooling, which samples mid-level features at the landmarks, gated
// by their visibility; the fused global and local features give the category (softmax), one
// logit per attribute and an L2-normalised identity embedding.
//
// It trains with heterogeneous supervision (every label a garment lacks is ignored): landmark
// regression and visibility cross-entropy, category cross-entropy, the multi-label ranking loss
// or weighted binary cross-entropy for attributes, and a triplet loss with hard (or random)
// negatives on P items x K views batches. Training may start with the landmark branch alone, as
// the paper does. Evaluation follows DeepFashion's protocols through package eval.
package fashionnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/eval"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/losses"
	"github.com/atelier-ml/atelier/train"
)

// TrainingDir is where Train keeps checkpoints and curves inside the bundle directory.
const TrainingDir = "training/fashionnet"

// Options set up Train.
type Options struct {
	// Out is the bundle directory; the training state (checkpoints, curves) goes to
	// Out/TrainingDir. An existing bundle there keeps its other networks.
	Out    string
	Config Config
	// Train configures the loop; its Dir is set by Train.
	Train train.Config
	// NoAugment turns the augmentation off.
	NoAugment bool
	// Dataset describes the data in the bundle; Backend names the compute backend.
	Dataset, Backend string
	// Log receives a line per phase; nil discards them.
	Log io.Writer
}

// Report is what Train returns: the run and the metrics on the held-out split.
type Report struct {
	Run     *train.Result
	Metrics *eval.FashionNetResult
}

// Vocabulary merges the vocabularies of the datasets trained together: they must share their
// categories, and those that have attributes must have the same ones.
func Vocabulary(sets []*dataset.Dataset) (fashion.Vocabulary, error) {
	if len(sets) == 0 {
		return fashion.Vocabulary{}, errors.New("no dataset")
	}
	v := sets[0].Vocab
	for _, d := range sets[1:] {
		if !slices.Equal(d.Vocab.Categories, v.Categories) {
			return v, fmt.Errorf("datasets %s and %s have different categories", sets[0].Root, d.Root)
		}
		switch {
		case len(d.Vocab.Attributes) == 0:
		case len(v.Attributes) == 0:
			v.Attributes = d.Vocab.Attributes
		case !slices.Equal(d.Vocab.Attributes, v.Attributes):
			return v, fmt.Errorf("dataset %s has other attributes than the others", d.Root)
		}
	}
	return v, nil
}

// Train trains FashionNet on the train splits of the datasets, evaluates it on their held-out
// splits (test, or query and gallery) and adds it to the bundle opts.Out. When ctx is cancelled
// it stops after a checkpoint (resume with opts.Train.Resume) and writes no bundle.
func Train(ctx context.Context, backend compute.Backend, sets []*dataset.Dataset, opts Options) (*Report, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fv, err := Vocabulary(sets)
	if err != nil {
		return nil, err
	}
	vocab := model.VocabularyOf(fv, true)
	numCats, numAttrs := len(vocab.Categories), len(vocab.Attributes)
	if numCats == 0 {
		return nil, errors.New("fashionnet: the data has no category vocabulary")
	}
	examples := NewExamples(cfg, attributeOutputs(numAttrs), sets, dataset.Train)
	if examples.Len() == 0 {
		return nil, errors.New("fashionnet: no garments in the train split")
	}
	examples.Augment = !opts.NoAugment
	if !examples.HasItems() && cfg.Weights.Triplet+cfg.Weights.Identity > 0 {
		logf(opts.Log, "fashionnet: no item has two training views: the identity losses stay 0 (train with In-shop or Consumer-to-shop data for the embedding)")
		cfg.Weights.Identity = 0
	}
	attrLabels := examples.AttributeLabels()
	pos, neg := losses.AttributeWeights(attrLabels, attributeOutputs(numAttrs))
	cfg.AttributePrior = nil
	if numAttrs > 0 {
		cfg.AttributePrior = losses.AttributePriors(attrLabels, numAttrs)
	}
	terms := objective(cfg, pos, neg)

	b, err := model.LoadOrNew(opts.Out, vocab)
	if err != nil {
		return nil, err
	}
	if err := compatible(b, vocab); err != nil {
		return nil, err
	}

	tc := opts.Train
	tc.Metrics = slices.Concat(tc.Metrics, termMetrics(terms))
	if init := tc.Init; init != nil {
		tc.Init = func(store *mlmodel.Store) error {
			if err := init(store); err != nil {
				return err
			}
			return cfg.adaptInput(store)
		}
	}
	logf(opts.Log, "fashionnet: %d training garments (%d items with ids), %d categories, %d attributes",
		examples.Len(), len(examples.views), numCats, numAttrs)
	trained, err := model.RunTraining(ctx, backend, model.TaskFashionNet, opts.Out, TrainingDir, tc,
		trainModel(cfg, numCats, attributeOutputs(numAttrs), examples.Items()), lossFn(cfg, terms), examples)
	if err != nil {
		return nil, err
	}
	run := trained.Result
	logf(opts.Log, "fashionnet: trained %d steps in %s", run.Step, run.Elapsed.Round(time.Second))

	metrics, err := evaluateHeldOut(backend, trained.Store, cfg, numCats, numAttrs, sets, opts.Log)
	if err != nil {
		return nil, err
	}

	aug := augmentation
	if opts.NoAugment {
		aug = "crop around the box with margin"
	}
	net := model.RGBNetwork(model.TaskFashionNet, cfg.Backbone.InputSize, Norm,
		trained.Training(opts.Dataset, formatsOf(sets), aug, opts.Backend))
	b.Vocabulary = vocab
	if err := b.SaveTrained(opts.Out, net, cfg, metrics, trained.Store, Scope); err != nil {
		return nil, err
	}
	return &Report{Run: run, Metrics: metrics}, nil
}

// evaluateHeldOut measures the network of store on the held-out splits of the datasets; data
// without any gives no metrics and no error.
func evaluateHeldOut(backend compute.Backend, store *mlmodel.Store, cfg Config, numCats, numAttrs int,
	sets []*dataset.Dataset, log io.Writer) (*eval.FashionNetResult, error) {
	pred, err := newPredictor(backend, store, cfg, numCats, numAttrs)
	if err != nil {
		return nil, err
	}
	defer pred.Close()
	metrics, err := evaluate(pred, sets, dataset.Test, log)
	if errors.Is(err, errNoGarments) {
		logf(log, "fashionnet: no held-out garments to measure")
		return nil, nil
	}
	return metrics, err
}

// formatsOf lists the datasets' formats, for a training record.
func formatsOf(sets []*dataset.Dataset) string {
	formats := make([]string, len(sets))
	for i, d := range sets {
		formats[i] = d.Format
	}
	return strings.Join(formats, ",")
}

// compatible checks that a classifier already in the bundle shares the new vocabulary's
// categories, since a bundle has one vocabulary (the detector keeps its classes in its config
// and the aligner uses the landmarks alone).
func compatible(b *model.Bundle, vocab model.Vocabulary) error {
	if _, ok := b.Networks[model.TaskClassifier]; ok && !slices.Equal(b.Vocabulary.Categories, vocab.Categories) {
		return fmt.Errorf("the bundle's %s network has other categories than this data", model.TaskClassifier)
	}
	return nil
}

// Evaluate runs the bundle's FashionNet on a split of the datasets (test also takes In-shop's
// query and gallery splits) and scores it by DeepFashion's protocols.
func Evaluate(backend compute.Backend, b *model.Bundle, sets []*dataset.Dataset, split dataset.Split, log io.Writer) (*eval.FashionNetResult, error) {
	if err := checkVocabulary(b, sets); err != nil {
		return nil, err
	}
	pred, err := NewPredictor(backend, b)
	if err != nil {
		return nil, err
	}
	defer pred.Close()
	return evaluate(pred, sets, split, log)
}

// checkVocabulary reports data whose categories or attributes are not the model's.
func checkVocabulary(b *model.Bundle, sets []*dataset.Dataset) error {
	fv, err := Vocabulary(sets)
	if err != nil {
		return err
	}
	if !slices.Equal(model.VocabularyOf(fv, true).Categories, b.Vocabulary.Categories) {
		return errors.New("the data's categories differ from the model's")
	}
	if len(fv.Attributes) > 0 && !slices.Equal(model.VocabularyOf(fv, true).Attributes, b.Vocabulary.Attributes) {
		return errors.New("the data's attributes differ from the model's")
	}
	return nil
}

// evalSplits are the splits evaluated for a requested one: In-shop keeps its held-out items in
// query and gallery instead of test.
func evalSplits(split dataset.Split) []dataset.Split {
	if split != dataset.Test {
		return []dataset.Split{split}
	}
	return []dataset.Split{dataset.Test, dataset.Query, dataset.Gallery}
}

// errNoGarments is returned by evaluate for a split without garments.
var errNoGarments = errors.New("no garments")

// evaluate predicts every garment of the split and computes each metric the labels allow.
func evaluate(p *Predictor, sets []*dataset.Dataset, split dataset.Split, log io.Writer) (*eval.FashionNetResult, error) {
	ex := NewExamples(p.cfg, attributeOutputs(p.numAttribs), sets, evalSplits(split)...)
	if ex.Len() == 0 {
		return nil, fmt.Errorf("%w in the %s split", errNoGarments, split)
	}
	logf(log, "fashionnet: evaluating %d garments", ex.Len())
	preds, crops, err := predictExamples(p, ex)
	if err != nil {
		return nil, err
	}
	// The attributes and category names of the first set that has each.
	var (
		attrs    []fashion.Attribute
		catNames []string
	)
	for _, set := range sets {
		if attrs == nil {
			attrs = set.Vocab.Attributes
		}
		if catNames == nil {
			for _, c := range set.Vocab.Categories {
				catNames = append(catNames, c.Name)
			}
		}
	}
	var (
		catScores  [][]float32
		catLabels  []int
		attrScores [][]float32
		attrLabels [][]int8
		cases      []eval.LandmarkCase
		inshop     retrievalSet
		c2s        retrievalSet
	)
	for i, pr := range preds {
		e := ex.At(i)
		g := ex.garment(i)
		if g.Category > 0 {
			catScores = append(catScores, pr.Category)
			catLabels = append(catLabels, g.Category-1)
		}
		if len(attrs) > 0 && len(g.Attributes) == len(attrs) {
			attrScores = append(attrScores, pr.Attributes)
			attrLabels = append(attrLabels, g.Attributes)
		}
		if slices.ContainsFunc(g.Landmarks[:], func(pt dataset.Point) bool { return pt.Labeled }) {
			px := p.ToPhoto(pr.Landmarks, crops[i].toCrop)
			cases = append(cases, eval.GarmentCase(px, *g, crops[i].width, crops[i].height))
		}
		if e.Item < 0 {
			continue
		}
		id := fmt.Sprint(e.Item)
		switch {
		case e.Sample.Split == dataset.Query:
			inshop.add(true, pr.Embedding, id)
		case e.Sample.Split == dataset.Gallery:
			inshop.add(false, pr.Embedding, id)
		case e.Sample.Source == dataset.SourceConsumer:
			c2s.add(true, pr.Embedding, id)
		case e.Sample.Source == dataset.SourceShop:
			c2s.add(false, pr.Embedding, id)
		}
	}
	res := &eval.FashionNetResult{}
	if len(catLabels) > 0 {
		r, err := eval.Category(catScores, catLabels)
		if err != nil {
			return nil, err
		}
		if len(catNames) > 0 {
			if r.Confusions, err = eval.TopConfusions(eval.Argmax(catScores), catLabels, catNames, 10); err != nil {
				return nil, err
			}
		}
		res.Category = &r
	}
	if len(attrLabels) > 0 {
		r, err := eval.Attributes(attrScores, attrLabels, attrs)
		if err != nil {
			return nil, err
		}
		res.Attributes = &r
	}
	if len(cases) > 0 {
		r, err := eval.Landmarks(cases, eval.LandmarkOptions{})
		if err != nil {
			return nil, err
		}
		res.Landmarks = &r
	}
	if res.InShop, err = inshop.result(); err != nil {
		return nil, err
	}
	if res.C2S, err = c2s.result(); err != nil {
		return nil, err
	}
	return res, nil
}

// retrievalSet collects the queries and the gallery of a retrieval benchmark.
type retrievalSet struct {
	queries, gallery     [][]float32
	queryIDs, galleryIDs []string
}

func (r *retrievalSet) add(query bool, emb []float32, id string) {
	if query {
		r.queries, r.queryIDs = append(r.queries, emb), append(r.queryIDs, id)
	} else {
		r.gallery, r.galleryIDs = append(r.gallery, emb), append(r.galleryIDs, id)
	}
}

// result scores the queries, or is nil when there are no queries or no gallery.
func (r *retrievalSet) result() (*eval.RetrievalResult, error) {
	if len(r.queries) == 0 || len(r.gallery) == 0 {
		return nil, nil
	}
	res, err := eval.Retrieval(r.queries, r.gallery, r.queryIDs, r.galleryIDs)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// predictExamples runs the network on every example, without augmentation, and returns the
// predictions with the crops' geometry (their pixels are dropped, to bound memory).
func predictExamples(p *Predictor, ex *Examples) ([]Prediction, []*crop, error) {
	const nl = fashion.NumLandmarks
	preds := make([]Prediction, 0, ex.Len())
	crops := make([]*crop, 0, ex.Len())
	err := forEachBatch(ex, func(_ int, cs []*crop, pixels []float32) error {
		out, err := p.run(pixels, make([]float32, len(cs)*nl*2), make([]float32, len(cs)*nl), len(cs))
		if err != nil {
			return err
		}
		preds = append(preds, out...)
		crops = append(crops, cs...)
		return nil
	})
	return preds, crops, err
}

// forEachBatch loads the examples in order, MaxBatch at a time and without augmentation, and
// calls fn with the index of each batch's first example, its crops and their pixels (NHWC,
// normalised), moved out of the crops.
func forEachBatch(ex *Examples, fn func(first int, cs []*crop, pixels []float32) error) error {
	idx := make([]int, 0, MaxBatch)
	for start := 0; start < ex.Len(); start += MaxBatch {
		idx = idx[:0]
		for i := start; i < min(start+MaxBatch, ex.Len()); i++ {
			idx = append(idx, i)
		}
		cs, err := ex.loadAll(idx, nil)
		if err != nil {
			return err
		}
		var pixels []float32
		for _, c := range cs {
			pixels = append(pixels, c.pixels...)
			c.pixels = nil
		}
		if err := fn(start, cs, pixels); err != nil {
			return fmt.Errorf("garments %d-%d: %w", start, start+len(cs)-1, err)
		}
	}
	return nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
