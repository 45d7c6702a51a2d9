package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/atelier-ml/atelier/fashion"
)

// Options tunes Walk.
type Options struct {
	// SkipImages skips checking that every listed image file exists.
	SkipImages bool
	// MaxErrors caps the problems kept (DefaultMaxErrors when 0); the rest are only counted.
	MaxErrors int
	// Progress, when set, is called now and then with the samples delivered so far and the total
	// expected (0 when not known yet).
	Progress func(done, total int)
}

// progressEvery is how many samples pass between two Progress calls.
const progressEvery = 4096

// Walk reads the dataset of the given format under dir and calls fn for every sample, streaming:
// only the per-image annotations of the small list files are held in memory, never the attribute
// rows. fn may keep the *Sample. Samples with problems are still delivered when they can be
// parsed at all; the problems are collected and returned together as *Errors once the whole
// dataset has been read. An error returned by fn stops the walk and is returned as is. Walk also
// returns the dataset's vocabulary (from its own list files where it has them).
func Walk(format, dir string, opts Options, fn func(*Sample) error) (fashion.Vocabulary, error) {
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = DefaultMaxErrors
	}
	w := &walker{dir: dir, opts: opts, fn: fn, errs: &collector{max: opts.MaxErrors}, vocab: fashion.DefaultVocabulary()}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return w.vocab, fmt.Errorf("dataset folder %s: %w", dir, notDir(err))
	}
	var err error
	switch format {
	case FormatAttr:
		err = w.attr()
	case FormatInShop:
		err = w.inShop()
	case FormatC2S:
		err = w.c2s()
	case FormatFLD:
		err = w.fld()
	case FormatDeepFashion2:
		err = w.deepFashion2()
	case FormatFashionMNIST:
		err = w.fashionMNIST()
	default:
		return w.vocab, fmt.Errorf("unknown format %q (known: %s)", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return w.vocab, err
	}
	return w.vocab, w.errs.result()
}

func notDir(err error) error {
	if err == nil {
		return errors.New("not a directory")
	}
	return err
}

// Load reads a whole dataset into memory (see Walk), checking that its images exist. On any
// problem it returns nil and the error (*Errors for problems in the data).
func Load(format, dir string) (*Dataset, error) {
	d := &Dataset{Format: format, Root: dir}
	vocab, err := Walk(format, dir, Options{}, func(s *Sample) error {
		d.Samples = append(d.Samples, *s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.Vocab = vocab
	return d, nil
}

// walker holds the state of one Walk.
type walker struct {
	dir   string
	opts  Options
	fn    func(*Sample) error
	errs  *collector
	vocab fashion.Vocabulary
	done  int
}

// deliver hands one sample to fn and reports progress.
func (w *walker) deliver(s *Sample, total int) error {
	w.done++
	if w.opts.Progress != nil && (w.done%progressEvery == 0 || w.done == total) {
		w.opts.Progress(w.done, total)
	}
	return w.fn(s)
}

// checkImage records an image that the list at path:line names but that is not on disk.
func (w *walker) checkImage(path string, line int, image string) {
	if w.opts.SkipImages {
		return
	}
	if _, err := os.Stat(filepath.Join(w.dir, image)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.errs.add(path, line, "image %s does not exist", image)
		} else {
			w.errs.add(path, line, "image %s: %v", image, err)
		}
	}
}

// table is the set of samples that a format's primary list defines, indexed by image name, so
// that the other lists can be joined to it.
type table struct {
	w       *walker
	rel     string // the primary list, relative to the dataset root
	path    string
	samples []Sample
	lines   []int32
	index   map[string]int32
}

func (w *walker) newTable(rel string) *table {
	return &table{w: w, rel: rel, path: filepath.Join(w.dir, rel), index: map[string]int32{}}
}

// reserve makes room for the number of samples that the primary list's count line announces
// (within reason: the count line may be wrong), so that the table is not copied as it grows.
func (t *table) reserve(count int) {
	count = min(max(count, 0), 1<<22)
	t.samples = make([]Sample, 0, count)
	t.lines = make([]int32, 0, count)
	t.index = make(map[string]int32, count)
}

// add appends a sample listed on line of the primary list; a second listing of the same image is
// an error and returns its first index with false.
func (t *table) add(line int, s Sample) (int, bool) {
	if i, dup := t.index[s.Image]; dup {
		t.w.errs.add(t.path, line, "image %s is listed twice (first on line %d)", s.Image, t.lines[i])
		return int(i), false
	}
	t.w.checkImage(t.path, line, s.Image)
	i := len(t.samples)
	t.index[s.Image] = int32(i)
	t.samples = append(t.samples, s)
	t.lines = append(t.lines, int32(line))
	return i, true
}

// join reads the list rel and calls row for each row whose image the primary list has, with the
// sample's index. It reports images found in only one of the two lists and images listed twice.
// It returns which samples rel lists (nil when rel is missing).
func (t *table) join(rel string, row func(r *listReader, i int) error) ([]bool, error) {
	r, err := openList(t.w.dir, rel, true, t.w.errs)
	if r == nil || err != nil {
		return nil, err
	}
	have := make([]bool, len(t.samples))
	for r.next() {
		i, ok := t.claim(r.path, rel, r.line, firstField(r.text), have)
		if !ok {
			continue
		}
		if err := row(r, i); err != nil {
			r.f.Close()
			return nil, err
		}
	}
	return t.endJoin(r, rel, have)
}

// endJoin closes the joined list rel and reports the samples that it does not have.
func (t *table) endJoin(r *listReader, rel string, have []bool) ([]bool, error) {
	if err := r.close(); err != nil {
		return nil, err
	}
	t.reportMissing(rel, have)
	return have, nil
}

// claim finds the sample of a row of the list rel (at path:line) and marks it in have; it reports
// an image that the primary list lacks or that rel lists twice.
func (t *table) claim(path, rel string, line int, name []byte, have []bool) (int, bool) {
	i, ok := t.index[string(name)]
	switch {
	case !ok:
		t.w.errs.add(path, line, "image %s is listed in %s but not in %s", name, rel, t.rel)
		return 0, false
	case have[i]:
		t.w.errs.add(path, line, "image %s is listed twice", name)
		return 0, false
	}
	have[i] = true
	return int(i), true
}

// reportMissing reports the samples that the list rel does not have.
func (t *table) reportMissing(rel string, have []bool) {
	for i, ok := range have {
		if !ok {
			t.w.errs.add(t.path, int(t.lines[i]), "image %s is listed in %s but not in %s", t.samples[i].Image, t.rel, rel)
		}
	}
}

// deliverAll hands every sample to the walker's fn, in primary-list order.
func (t *table) deliverAll() error {
	for i := range t.samples {
		if err := t.w.deliver(&t.samples[i], len(t.samples)); err != nil {
			return err
		}
	}
	return nil
}

func firstField(line []byte) []byte {
	line = bytes.TrimLeft(line, " \t")
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		return line[:i]
	}
	return line
}

// wantFields records a row with the wrong number of fields.
func wantFields(r *listReader, fields [][]byte, want int, columns string) bool {
	if len(fields) != want {
		r.errorf("row has %d fields, want %d (%s)", len(fields), want, columns)
		return false
	}
	return true
}

// parseSplit parses an evaluation_status among the allowed ones.
func parseSplit(b []byte, allowed ...Split) (Split, error) {
	for _, s := range allowed {
		if string(b) == string(s) {
			return s, nil
		}
	}
	names := make([]string, len(allowed))
	for i, s := range allowed {
		names[i] = string(s)
	}
	return "", fmt.Errorf("unknown evaluation_status %q (want %s)", truncate(b), strings.Join(names, ", "))
}

// parseBox parses four integer fields x1 y1 x2 y2 and checks their order.
func parseBox(fields [][]byte, firstField int) ([4]float32, error) {
	var v [4]int
	var b [4]float32
	if err := parseInts(fields, v[:], firstField); err != nil {
		return b, err
	}
	if err := checkCoords(v[:]...); err != nil {
		return b, err
	}
	for i, x := range v {
		b[i] = float32(x)
	}
	return b, checkBox(b)
}

// setBox parses a box row's x1 y1 x2 y2 fields (the first at column firstField) into g, recording
// a bad box.
func setBox(r *listReader, g *Garment, fields [][]byte, firstField int) {
	b, err := parseBox(fields, firstField)
	if err != nil {
		r.errorf("%v", err)
		return
	}
	g.Box, g.HasBox = b, true
}

// setLandmarks parses a landmark row's fields (after the image name) into g, checking that its
// clothes_type agrees with what g already knows.
func setLandmarks(r *listReader, g *Garment, fields [][]byte) {
	row, err := parseLandmarkRow(fields)
	if err != nil {
		r.errorf("%v", err)
		return
	}
	if g.Type != fashion.TypeUnknown && g.Type != row.Type {
		r.errorf("clothes_type %d (%v) disagrees with the garment's type %v", row.Type, row.Type, g.Type)
		return
	}
	g.Type = row.Type
	g.Landmarks = row.Points
	g.Variation = row.Variation
}
