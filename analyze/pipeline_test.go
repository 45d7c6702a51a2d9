package analyze

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"

	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/model"
	"github.com/atelier-ml/atelier/model/aligner"
	"github.com/atelier-ml/atelier/model/detector"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// tinyPipeline is a pipeline of untrained tiny networks: enough to exercise the plumbing.
func tinyPipeline(t *testing.T) *Pipeline {
	t.Helper()
	backend, err := compute.NewWithConfig("go:ops_sequential") // compute v0.1.2 deadlocks when parallel ops nest large matmuls
	if err != nil {
		t.Fatal(err)
	}
	bb := nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{8, 16, 16, 32}, Depths: [4]int{1, 1, 1, 1}, InputSize: 64}
	det, err := detector.New(backend, train.InitStore(1), detector.Config{Backbone: bb, Neck: 8, Head: 8, Classes: detector.TypeClasses()}, imageio.ImageNetNorm)
	if err != nil {
		t.Fatal(err)
	}
	al, err := aligner.New(backend, train.InitStore(2), aligner.Config{Backbone: bb, Hidden: 8, Clusters: 2, Margin: 0.1, Step: 0.1}, imageio.ImageNetNorm)
	if err != nil {
		t.Fatal(err)
	}
	// A zero score threshold reports every peak, so that the untrained networks yield garments.
	p := NewFromParts(det, al, nil, model.Vocabulary{}, Options{Workers: 2, MinScore: 1e-9})
	t.Cleanup(p.Close)
	return p
}

// encoded returns a w x h gradient encoded as PNG or JPEG.
func encoded(t *testing.T, w, h int, asJPEG bool) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 3), 90, 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if asJPEG {
		err = jpeg.Encode(&buf, img, nil)
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hugePNG is a valid PNG header that announces 100000 x 100000 pixels.
func hugePNG() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		b.Write(body)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

// TestAnalyzeFilesBadInput runs a batch that mixes good photos with each kind of bad input:
// every bad one gets an InputError naming its file, and the good ones are still analysed.
func TestAnalyzeFilesBadInput(t *testing.T) {
	p := tinyPipeline(t)
	dir := t.TempDir()
	good := encoded(t, 80, 60, false)
	goodJPEG := encoded(t, 80, 60, true)
	files := []struct {
		name string
		data []byte // nil: the file does not exist
		want error  // nil: analysed
	}{
		{"good1.png", good, nil},
		{"notanimage.png", []byte("hello, I am text\n"), imageio.ErrFormat},
		{"truncated.jpg", goodJPEG[:len(goodJPEG)/2], imageio.ErrTruncated},
		{"huge.png", hugePNG(), imageio.ErrTooManyPixels},
		{"empty.png", []byte{}, imageio.ErrEmpty},
		{"missing.png", nil, fs.ErrNotExist},
		{"good2.jpg", goodJPEG, nil},
	}
	var paths []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if f.data != nil {
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		paths = append(paths, path)
	}
	var outs []Output
	err := p.AnalyzeFiles(context.Background(), paths, true, func(o Output) { outs = append(outs, o) })
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(files) {
		t.Fatalf("%d outputs for %d files", len(outs), len(files))
	}
	for i, f := range files {
		o := outs[i]
		if o.Index != i {
			t.Fatalf("output %d has index %d: not in input order", i, o.Index)
		}
		if f.want == nil {
			if o.Err != nil {
				t.Errorf("%s: %v", f.name, o.Err)
				continue
			}
			r := o.Result
			if r.Width != 80 || r.Height != 60 || r.Image != paths[i] || o.Image == nil {
				t.Errorf("%s: result %+v", f.name, r)
			}
			for _, stage := range []string{"decode", "detect", "align", "recognize", "total"} {
				if _, ok := r.Timings[stage]; !ok {
					t.Errorf("%s: no %s timing in %v", f.name, stage, r.Timings)
				}
			}
			for _, g := range r.Garments {
				if len(g.Landmarks) == 0 || g.Type == "" || g.Category.Name == "" {
					t.Errorf("%s: incomplete garment %+v", f.name, g)
				}
			}
			_ = Annotate(o.Image, r)
			continue
		}
		var ie *InputError
		if !errors.As(o.Err, &ie) || !errors.Is(o.Err, f.want) {
			t.Errorf("%s: error %v, want an InputError wrapping %v", f.name, o.Err, f.want)
			continue
		}
		msg := o.Err.Error()
		if strings.Count(msg, paths[i]) != 1 || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q should name the file once, on one line", f.name, msg)
		}
	}
}

func TestAnnotateKeepsInput(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	r := Result{Garments: []Garment{{Box: [4]float32{5, 20, 30, 35}, Type: "upper", Score: 0.9,
		Landmarks: []Landmark{{Name: "left collar", X: 10, Y: 22, Visible: true}}}}}
	out := Annotate(img, r)
	if out == img {
		t.Fatal("Annotate drew on its input")
	}
	for _, v := range img.Pix {
		if v != 0 {
			t.Fatal("Annotate changed its input")
		}
	}
	if out.RGBAAt(5, 25) == (color.RGBA{}) {
		t.Error("no box drawn at its left edge")
	}
}

// TestAnalyzeImage is the server's entry point: an in-memory photo in, a result out; an empty
// image is bad input.
func TestAnalyzeImage(t *testing.T) {
	p := tinyPipeline(t)
	img := image.NewRGBA(image.Rect(10, 20, 90, 80)) // bounds need not start at 0
	r, err := p.Analyze(context.Background(), img, "upload")
	if err != nil {
		t.Fatal(err)
	}
	if r.Image != "upload" || r.Width != 80 || r.Height != 60 || r.Garments == nil {
		t.Errorf("result %+v", r)
	}
	_, err = p.Analyze(context.Background(), image.NewRGBA(image.Rectangle{}), "empty")
	var ie *InputError
	if !errors.As(err, &ie) || !errors.Is(err, imageio.ErrEmpty) {
		t.Errorf("empty image: %v, want an InputError wrapping ErrEmpty", err)
	}
}

// TestAttributesCap checks which attributes a garment reports: those at or above the threshold,
// highest first, at most MaxAttributes (5 by default, none when negative).
func TestAttributesCap(t *testing.T) {
	var vocab model.Vocabulary
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		vocab.Attributes = append(vocab.Attributes, model.Label{Name: n, Type: "style"})
	}
	scores := []float32{0.9, 0.2, 0.6, 0.95, 0.7, 0.55, 0.8}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"default: five highest above 0.5", Options{}, "d a g e c"},
		{"cap 2", Options{MaxAttributes: 2}, "d a"},
		{"no cap", Options{MaxAttributes: -1}, "d a g e c f"},
		{"threshold 0.75", Options{AttributeThreshold: 0.75}, "d a g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pipeline{vocab: vocab, opts: tt.opts.withDefaults()}
			var got []string
			for _, a := range p.attributes(scores) {
				got = append(got, a.Name)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("attributes %v, want %s", got, tt.want)
			}
		})
	}
}

// TestCatalogThreshold checks that Analyze keeps the garments at or above MinScore and
// AnalyzeCatalog those at or above CatalogMinScore.
func TestCatalogThreshold(t *testing.T) {
	all := tinyPipeline(t)
	img := image.NewRGBA(image.Rect(0, 0, 96, 128))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	every, err := all.Analyze(context.Background(), img, "x")
	if err != nil {
		t.Fatal(err)
	}
	var scores []float32
	for _, g := range every.Garments {
		scores = append(scores, g.Score)
	}
	slices.Sort(scores)
	if len(scores) < 3 || scores[0] == scores[len(scores)-1] {
		t.Fatalf("the untrained detector gave scores %v; the test needs several distinct ones", scores)
	}
	street, catalog := scores[len(scores)/2], scores[1]
	// The same networks with thresholds between the scores (not closed: all owns them).
	p := NewFromParts(all.det, all.al, nil, model.Vocabulary{}, Options{MinScore: street, CatalogMinScore: catalog})
	count := func(min float32) int {
		n := 0
		for _, s := range scores {
			if s >= min {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		name    string
		analyze func(context.Context, image.Image, string) (Result, error)
		want    int
	}{{"Analyze", p.Analyze, count(street)}, {"AnalyzeCatalog", p.AnalyzeCatalog, count(catalog)}} {
		r, err := tt.analyze(context.Background(), img, "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Garments) != tt.want {
			t.Errorf("%s: %d garments, want %d (scores %v, thresholds %g street, %g catalog)", tt.name, len(r.Garments), tt.want, scores, street, catalog)
		}
	}
}
