package analyze

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/gomlx/compute"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/aligner"
	"github.com/atelier-ml/atelier/model/detector"
	"github.com/atelier-ml/atelier/model/fashionnet"
)

// Options tune a Pipeline. Zero values take the defaults named on each field.
type Options struct {
	// Workers is the number of images analysed at once by AnalyzeFiles (default GOMAXPROCS).
	// It bounds memory: at most this many decoded photos are held.
	Workers int
	// MinScore is the lowest detection score reported as a garment (default 0.3).
	MinScore float32
	// CatalogMinScore is AnalyzeCatalog's MinScore (default CatalogMinScore).
	CatalogMinScore float32
	// AttributeThreshold is the lowest attribute score reported (default 0.5).
	AttributeThreshold float32
	// MaxAttributes caps the attributes reported per garment to the highest scored (default 5,
	// as DeepFashion reads the top of the ranking; negative for no cap). The scores rank well but
	// are not calibrated (ranking loss, prior correction), so many pass any fixed threshold.
	MaxAttributes int
	// Limits bound the images AnalyzeFiles decodes (imageio's defaults when zero).
	Limits imageio.Limits
	// NoGeometry switches the detector's geometric consistency pass off.
	NoGeometry bool
	// PoolAtAligned makes FashionNet pool its local features at the aligner's landmarks instead
	// of at its own predictions. Off by default: FashionNet learns to pool at its own predictions,
	// and with the built-in bundle on the validation scenes of seed 1 (300 street photos, `eval
	// pipeline --data out/synth-1/scenes --images 300`) they put the right catalog item first for
	// 0.363 of the garments against 0.300 at the aligned landmarks (top-5 0.713 against 0.560).
	PoolAtAligned bool
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MinScore <= 0 {
		o.MinScore = 0.3
	}
	if o.CatalogMinScore <= 0 {
		o.CatalogMinScore = CatalogMinScore
	}
	if o.AttributeThreshold <= 0 {
		o.AttributeThreshold = 0.5
	}
	if o.MaxAttributes == 0 {
		o.MaxAttributes = 5
	}
	return o
}

// CatalogMinScore is the default lowest detection score of a catalog photo's garment: lower
// than for street photos (0.3), since a shop photo is known to show its product, so a weak
// detection there is more likely right than a weak one in a street scene (an earlier built-in
// detector scored one in nine of the demo catalog's garments between 0.15 and 0.3).
const CatalogMinScore = 0.15

// Pipeline analyses photos with a bundle's detector, aligner and (when the bundle has one)
// FashionNet. It is safe for concurrent use.
type Pipeline struct {
	det   *detector.Detector
	al    *aligner.Aligner
	rec   *fashionnet.Predictor // nil: categories come from the detector's classes
	vocab model.Vocabulary
	opts  Options
}

// Open loads the bundle in the directory dir.
func Open(backend compute.Backend, dir string, opts Options) (*Pipeline, error) {
	return OpenFS(backend, os.DirFS(dir), ".", opts)
}

// OpenFS loads the bundle in the directory dir of fsys (an embedded default bundle, say).
func OpenFS(backend compute.Backend, fsys fs.FS, dir string, opts Options) (*Pipeline, error) {
	b, err := model.LoadFS(fsys, dir)
	if err != nil {
		return nil, err
	}
	return New(backend, b, opts)
}

// New builds the pipeline of a loaded bundle, which must hold a detector and an aligner; its
// FashionNet is used when present.
func New(backend compute.Backend, b *model.Bundle, opts Options) (*Pipeline, error) {
	det, err := detector.Load(backend, b)
	if err != nil {
		return nil, err
	}
	al, err := aligner.Load(backend, b)
	if err != nil {
		det.Close()
		return nil, err
	}
	var rec *fashionnet.Predictor
	if _, ok := b.Networks[model.TaskFashionNet]; ok {
		if rec, err = fashionnet.NewPredictor(backend, b); err != nil {
			det.Close()
			al.Close()
			return nil, err
		}
	}
	return NewFromParts(det, al, rec, b.Vocabulary, opts), nil
}

// NewFromParts assembles a pipeline from networks already built; rec may be nil.
func NewFromParts(det *detector.Detector, al *aligner.Aligner, rec *fashionnet.Predictor, vocab model.Vocabulary, opts Options) *Pipeline {
	return &Pipeline{det: det, al: al, rec: rec, vocab: vocab, opts: opts.withDefaults()}
}

// Close releases the networks' compiled graphs.
func (p *Pipeline) Close() {
	p.det.Close()
	p.al.Close()
	if p.rec != nil {
		p.rec.Close()
	}
}

// EmbeddingModel identifies the network that computes the garments' embeddings
// (model.Network.ID), which catalog items record under index.MetaEmbeddingModel; it is empty
// when the pipeline has no FashionNet.
func (p *Pipeline) EmbeddingModel() string {
	if p.rec == nil {
		return ""
	}
	return p.rec.ID()
}

// Analyze finds, aligns and recognises every garment in img; name is reported as Result.Image.
func (p *Pipeline) Analyze(ctx context.Context, img image.Image, name string) (Result, error) {
	return p.analyze(ctx, img, name, p.opts.MinScore)
}

// AnalyzeCatalog is Analyze for a shop's photo of a product, at Options.CatalogMinScore.
func (p *Pipeline) AnalyzeCatalog(ctx context.Context, img image.Image, name string) (Result, error) {
	return p.analyze(ctx, img, name, p.opts.CatalogMinScore)
}

func (p *Pipeline) analyze(ctx context.Context, img image.Image, name string, minScore float32) (Result, error) {
	start := time.Now()
	b := img.Bounds()
	res := Result{Image: name, Width: b.Dx(), Height: b.Dy(), Garments: []Garment{}, Timings: map[string]float64{}}
	if b.Empty() {
		return res, &InputError{Name: name, Err: imageio.ErrEmpty}
	}
	lap := func(stage string, t time.Time) { res.Timings[stage] = ms(time.Since(t)) }

	t := time.Now()
	dets, err := p.det.Detect([]image.Image{img}, detector.DecodeOptions{NoGeometry: p.opts.NoGeometry})
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	lap("detect", t)
	var kept []detector.Detection
	for _, d := range dets[0] {
		if d.Score >= minScore {
			d.Box = clampBox(d.Box, b.Dx(), b.Dy())
			kept = append(kept, d)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	t = time.Now()
	boxes := make([][4]float32, len(kept))
	for i, d := range kept {
		boxes[i] = d.Box
	}
	als, err := p.al.Align(img, boxes)
	if err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	lap("align", t)
	if err := ctx.Err(); err != nil {
		return res, err
	}

	t = time.Now()
	var preds []fashionnet.Prediction
	if p.rec != nil && len(kept) > 0 {
		if preds, err = p.recognize(img, boxes, als); err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
	}
	lap("recognize", t)

	for i, d := range kept {
		typ := p.det.Type(d.Class)
		g := Garment{Box: d.Box, Type: typ.String(), Score: d.Score, Attributes: []Attribute{}}
		if preds != nil {
			g.Category = p.category(preds[i].Category)
			g.Attributes = p.attributes(preds[i].Attributes)
			g.Embedding = preds[i].Embedding
		} else {
			name := p.det.Config().Classes[d.Class].Name
			g.Category = Category{Name: name, Score: d.Score, Top5: []ScoredLabel{{Name: name, Score: d.Score}}}
		}
		for _, l := range fashion.LandmarkSlots(typ) {
			pt := als[i].Points[l]
			g.Landmarks = append(g.Landmarks, Landmark{Name: l.String(), X: pt[0], Y: pt[1], Visible: als[i].Visible[l]})
		}
		res.Garments = append(res.Garments, g)
	}
	res.Timings["total"] = ms(time.Since(start))
	return res, nil
}

// recognize runs FashionNet on the garments, pooling its local features at its own predicted
// landmarks or, with Options.PoolAtAligned, at the aligned ones (mapped into its crop).
func (p *Pipeline) recognize(img image.Image, boxes [][4]float32, als []aligner.Alignment) ([]fashionnet.Prediction, error) {
	s := float32(p.rec.InputSize())
	crops := make([]fashionnet.Crop, len(boxes))
	for i, box := range boxes {
		c, a := p.rec.CropGarment(img, box)
		crops[i].Image = c
		if !p.opts.PoolAtAligned {
			continue
		}
		var lm [fashion.NumLandmarks][2]float32
		for l, pt := range als[i].Points {
			x, y := a.Apply(pt[0], pt[1])
			lm[l] = [2]float32{(x + 0.5) / s, (y + 0.5) / s}
		}
		crops[i].Landmarks = &lm
	}
	return p.rec.Predict(crops)
}

// category returns the most likely category with the five most likely ones.
func (p *Pipeline) category(probs []float32) Category {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	var c Category
	for _, i := range idx[:min(5, len(idx))] {
		c.Top5 = append(c.Top5, ScoredLabel{Name: p.label(p.vocab.Categories, i), Score: probs[i]})
	}
	if len(c.Top5) > 0 {
		c.Name, c.Score = c.Top5[0].Name, c.Top5[0].Score
	}
	return c
}

// attributes returns the attributes scored at least the threshold, highest first, at most
// MaxAttributes of them.
func (p *Pipeline) attributes(scores []float32) []Attribute {
	out := []Attribute{}
	for i, s := range scores {
		if s >= p.opts.AttributeThreshold {
			a := Attribute{Name: p.label(p.vocab.Attributes, i), Score: s}
			if i < len(p.vocab.Attributes) {
				a.Type = p.vocab.Attributes[i].Type
			}
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	if p.opts.MaxAttributes > 0 && len(out) > p.opts.MaxAttributes {
		out = out[:p.opts.MaxAttributes]
	}
	return out
}

func (p *Pipeline) label(ls []model.Label, i int) string {
	if i < len(ls) {
		return ls[i].Name
	}
	return fmt.Sprintf("#%d", i)
}

// clampBox keeps a box inside a w x h image.
func clampBox(b [4]float32, w, h int) [4]float32 {
	mx, my := float32(w)-0.5, float32(h)-0.5
	return [4]float32{min(max(b[0], -0.5), mx), min(max(b[1], -0.5), my), min(max(b[2], -0.5), mx), min(max(b[3], -0.5), my)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// InputError is a problem with an input image (unreadable, not an image, truncated, too big),
// as opposed to a failure of the pipeline.
type InputError struct {
	Name string
	Err  error
}

func (e *InputError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Output is one image's outcome in AnalyzeFiles: its result, or the error that stopped it.
type Output struct {
	Index  int
	Result Result
	// Image is the decoded photo, kept only when AnalyzeFiles is asked to (for annotation).
	Image image.Image
	Err   error
}

// AnalyzeFiles decodes and analyses the files with Options.Workers images in flight, and calls
// emit once per file, in the order of paths, from the calling goroutine. A file that cannot be
// read or decoded gets an *InputError and the others go on. keepImages passes each decoded
// photo to emit. It stops early, with ctx's error, when ctx is cancelled.
func (p *Pipeline) AnalyzeFiles(ctx context.Context, paths []string, keepImages bool, emit func(Output)) error {
	results := make([]chan Output, len(paths))
	for i := range results {
		results[i] = make(chan Output, 1)
	}
	// Workers take indices in order; a semaphore of Workers slots, released by the emitter,
	// bounds the outputs (and kept images) waiting for their turn.
	slots := make(chan struct{}, p.opts.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for i, path := range paths {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() { results[i] <- p.analyzeFile(ctx, i, path, keepImages) }()
		}
	}()
	for i := range paths {
		select {
		case out := <-results[i]:
			emit(out)
			<-slots
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *Pipeline) analyzeFile(ctx context.Context, i int, path string, keep bool) Output {
	out := Output{Index: i, Result: Result{Image: path, Garments: []Garment{}}}
	t := time.Now()
	img, _, err := imageio.DecodeFile(path, p.opts.Limits)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // DecodeFile's own errors already start with the path
		}
		out.Err = &InputError{Name: path, Err: trimPath(err, path)}
		return out
	}
	decode := ms(time.Since(t))
	out.Result, out.Err = p.Analyze(ctx, img, path)
	if out.Err == nil {
		out.Result.Timings["decode"] = decode
		out.Result.Timings["total"] += decode
	}
	if keep {
		out.Image = img
	}
	return out
}

// trimPath removes the "path: " prefix that imageio.DecodeFile puts on its errors, since
// InputError names the file itself.
func trimPath(err error, path string) error {
	msg := err.Error()
	if len(msg) > len(path)+2 && msg[:len(path)+2] == path+": " {
		return &prefixed{msg: msg[len(path)+2:], err: err}
	}
	return err
}

// prefixed is an error with a shorter message that still unwraps to the original.
type prefixed struct {
	msg string
	err error
}

func (e *prefixed) Error() string { return e.msg }
func (e *prefixed) Unwrap() error { return errors.Unwrap(e.err) }
