package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/index"
)

// colorAnalyzer is a deterministic test double of the analyze pipeline, never shipped: it finds
// one garment per dominant colour channel (red: an upper-body tee, green: a full-body dress,
// blue: lower-body jeans), boxes the pixels of that colour, and embeds the garment as its mean
// colour, so that similar colours are similar items.
type colorAnalyzer struct{}

// colorClasses maps a dominant channel to the garment the double reports for it.
var colorClasses = [3]struct {
	typ      fashion.GarmentType
	category string
}{{fashion.Upper, "Tee"}, {fashion.Full, "Dress"}, {fashion.Lower, "Jeans"}}

// landmarkPlaces are box-relative positions of the landmark slots.
var landmarkPlaces = map[fashion.Landmark][2]float32{
	fashion.LeftCollar: {0.35, 0.02}, fashion.RightCollar: {0.65, 0.02},
	fashion.LeftSleeve: {0.02, 0.45}, fashion.RightSleeve: {0.98, 0.45},
	fashion.LeftWaistline: {0.1, 0.02}, fashion.RightWaistline: {0.9, 0.02},
	fashion.LeftHem: {0.1, 0.98}, fashion.RightHem: {0.9, 0.98},
}

func (colorAnalyzer) Analyze(ctx context.Context, img image.Image, name string) (analyze.Result, error) {
	start := time.Now()
	b := img.Bounds()
	// Sample at most about 256×256 pixels, so that a large photo costs no more than a small one.
	step := max(1, max(b.Dx(), b.Dy())/256)
	type acc struct {
		x1, y1, x2, y2 int
		sum            [3]float64
		n              int
	}
	var accs [3]acc
	for i := range accs {
		accs[i] = acc{x1: math.MaxInt, y1: math.MaxInt, x2: -1, y2: -1}
	}
	samples := 0
	for y := b.Min.Y; y < b.Max.Y; y += step {
		if err := ctx.Err(); err != nil {
			return analyze.Result{}, err
		}
		for x := b.Min.X; x < b.Max.X; x += step {
			samples++
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
			d := dominant(c)
			if d < 0 {
				continue
			}
			a := &accs[d]
			a.x1, a.y1, a.x2, a.y2 = min(a.x1, x), min(a.y1, y), max(a.x2, x+step), max(a.y2, y+step)
			for i := range c {
				a.sum[i] += c[i]
			}
			a.n++
		}
	}
	res := analyze.Result{Image: name, Width: b.Dx(), Height: b.Dy(), Garments: []analyze.Garment{}}
	for d, a := range accs {
		if a.n*100 < samples { // under 1% of the photo is noise
			continue
		}
		cls := colorClasses[d]
		var mean [3]float64
		for i := range mean {
			mean[i] = a.sum[i] / float64(a.n)
		}
		res.Garments = append(res.Garments, fakeGarment(cls.typ, cls.category, mean,
			[4]float32{float32(a.x1 - b.Min.X), float32(a.y1 - b.Min.Y), float32(min(a.x2, b.Max.X) - b.Min.X), float32(min(a.y2, b.Max.Y) - b.Min.Y)},
			float32(a.n)/float32(samples)))
	}
	res.Timings = map[string]float64{"detect": float64(time.Since(start).Microseconds()) / 1000}
	return res, nil
}

// dominant returns the channel that exceeds the two others by a clear margin, or -1 for greys,
// skin and beige.
func dominant(c [3]float64) int {
	for i := range c {
		j, k := (i+1)%3, (i+2)%3
		if c[i]-max(c[j], c[k]) > 60 {
			return i
		}
	}
	return -1
}

// fakeGarment builds the double's garment: category and attributes from the colour, the type's
// landmark slots placed in the box, and the centred mean colour as embedding.
func fakeGarment(typ fashion.GarmentType, category string, mean [3]float64, box [4]float32, share float32) analyze.Garment {
	g := analyze.Garment{
		Box:      box,
		Type:     typ.String(),
		Score:    min(0.99, 0.5+share),
		Category: analyze.Category{Name: category, Score: 0.9, Top5: []analyze.ScoredLabel{{Name: category, Score: 0.9}}},
		Attributes: []analyze.Attribute{
			{Name: colorName(mean), Type: fashion.Texture.String(), Score: 0.8},
			{Name: "cotton", Type: fashion.Fabric.String(), Score: 0.6},
		},
		Embedding: []float32{0.1},
	}
	for _, c := range fashion.Categories {
		if c.Type == typ && c.Name != category && len(g.Category.Top5) < 5 {
			g.Category.Top5 = append(g.Category.Top5, analyze.ScoredLabel{Name: c.Name, Score: 0.02})
		}
	}
	for _, l := range fashion.LandmarkSlots(typ) {
		p := landmarkPlaces[l]
		g.Landmarks = append(g.Landmarks, analyze.Landmark{Name: l.String(),
			X: box[0] + p[0]*(box[2]-box[0]), Y: box[1] + p[1]*(box[3]-box[1]), Visible: l != fashion.RightHem})
	}
	for _, m := range mean {
		g.Embedding = append(g.Embedding, float32((m-128)/128))
	}
	return g
}

func colorName(c [3]float64) string {
	switch dominant(c) {
	case 0:
		return "red"
	case 1:
		return "green"
	case 2:
		return "blue"
	}
	return "neutral"
}

// blockingAnalyzer holds every analysis until release is closed (or its context ends), so that
// tests can fill the queue or shut down with requests in flight.
type blockingAnalyzer struct {
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int64
}

func newBlockingAnalyzer() *blockingAnalyzer {
	return &blockingAnalyzer{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (a *blockingAnalyzer) Analyze(ctx context.Context, img image.Image, name string) (analyze.Result, error) {
	a.calls.Add(1)
	a.entered <- struct{}{}
	select {
	case <-a.release:
	case <-ctx.Done():
		return analyze.Result{}, ctx.Err()
	}
	return colorAnalyzer{}.Analyze(ctx, img, name)
}

// streetPhoto draws a person in a red top and blue trousers on a beige street.
func streetPhoto() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 480, 640))
	for y := 0; y < 640; y++ {
		v := uint8(225 - y/16)
		draw.Draw(img, image.Rect(0, y, 480, y+1), image.NewUniform(color.RGBA{v, v - 10, v - 30, 255}), image.Point{}, draw.Src)
	}
	fill := func(r image.Rectangle, c color.RGBA) { draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src) }
	fill(image.Rect(0, 560, 480, 640), color.RGBA{150, 146, 140, 255})  // pavement
	fill(image.Rect(215, 60, 265, 120), color.RGBA{224, 180, 150, 255}) // head
	fill(image.Rect(170, 125, 310, 330), color.RGBA{200, 40, 45, 255})  // top
	fill(image.Rect(140, 130, 172, 300), color.RGBA{190, 35, 40, 255})  // sleeves
	fill(image.Rect(308, 130, 340, 300), color.RGBA{190, 35, 40, 255})
	fill(image.Rect(180, 330, 300, 540), color.RGBA{40, 60, 170, 255}) // trousers
	fill(image.Rect(180, 540, 232, 560), color.RGBA{30, 30, 30, 255})  // shoes
	fill(image.Rect(248, 540, 300, 560), color.RGBA{30, 30, 30, 255})
	return img
}

// shopPhoto draws one garment of colour c on a white background, shaped after its type.
func shopPhoto(c color.RGBA, typ fashion.GarmentType) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 240, 320))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{245, 245, 245, 255}), image.Point{}, draw.Src)
	r := image.Rect(50, 40, 190, 280)
	switch typ {
	case fashion.Upper:
		r = image.Rect(50, 60, 190, 230)
		draw.Draw(img, image.Rect(20, 70, 220, 140), image.NewUniform(c), image.Point{}, draw.Src)
	case fashion.Lower:
		r = image.Rect(70, 40, 170, 290)
	}
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
	return img
}

// catalogItem is a synthetic shop item.
type catalogItem struct {
	id, name string
	typ      fashion.GarmentType
	c        color.RGBA
}

// testCatalog has tops, trousers and dresses in shades near and far from the street photo's; the
// colour double types a garment by its colour, so tops are reddish, trousers blue and dresses green.
var testCatalog = []catalogItem{
	{"tee-crimson", "Crimson tee", fashion.Upper, color.RGBA{205, 40, 50, 255}},
	{"tee-rose", "Rose tee", fashion.Upper, color.RGBA{235, 120, 130, 255}},
	{"tee-brick", "Brick tee", fashion.Upper, color.RGBA{160, 60, 40, 255}},
	{"tee-coral", "Coral tee", fashion.Upper, color.RGBA{240, 110, 80, 255}},
	{"tee-wine", "Wine tee", fashion.Upper, color.RGBA{120, 20, 40, 255}},
	{"jeans-indigo", "Indigo jeans", fashion.Lower, color.RGBA{40, 60, 170, 255}},
	{"jeans-sky", "Sky jeans", fashion.Lower, color.RGBA{110, 150, 230, 255}},
	{"jeans-navy", "Navy jeans", fashion.Lower, color.RGBA{30, 40, 120, 255}},
	{"jeans-denim", "Denim jeans", fashion.Lower, color.RGBA{70, 100, 180, 255}},
	{"dress-emerald", "Emerald dress", fashion.Full, color.RGBA{20, 160, 80, 255}},
	{"dress-mint", "Mint dress", fashion.Full, color.RGBA{100, 220, 140, 255}},
	{"dress-lime", "Lime dress", fashion.Full, color.RGBA{110, 200, 30, 255}},
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testEnv is a server with the colour double and a fresh embedded index in a temp dir.
type testEnv struct {
	srv      *Server
	ts       *httptest.Server
	idx      index.Index
	idxPath  string
	imageDir string
}

func newTestEnv(t testing.TB, cfg Config, a Analyzer) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{idxPath: filepath.Join(dir, "catalog.db"), imageDir: filepath.Join(dir, "images")}
	idx, err := index.OpenEmbedded(e.idxPath)
	if err != nil {
		t.Fatal(err)
	}
	e.idx = idx
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.ImageDir == "" {
		cfg.ImageDir = e.imageDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if a == nil {
		a = colorAnalyzer{}
	}
	e.srv = New(cfg)
	e.srv.SetBackend(a, idx)
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.ts.Close()
		e.idx.Close()
	})
	return e
}

// multipartBody builds a multipart/form-data body with an "image" file and fields.
func multipartBody(t testing.TB, img []byte, fields map[string]string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if img != nil {
		fw, err := mw.CreateFormFile("image", "photo.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(img)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// do sends a request and returns the status, the headers and the body.
func (e *testEnv) do(t testing.TB, method, path, contentType string, body io.Reader, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, data
}

// addCatalog posts every item of testCatalog through the API.
func (e *testEnv) addCatalog(t testing.TB, header ...string) {
	t.Helper()
	for _, it := range testCatalog {
		body, ct := multipartBody(t, encodePNG(t, shopPhoto(it.c, it.typ)), map[string]string{"id": it.id, "name": it.name, "type": it.typ.String()})
		if code, _, data := e.do(t, "POST", "/v1/items", ct, body, header...); code != http.StatusCreated {
			t.Fatalf("adding %s: %d %s", it.id, code, data)
		}
	}
}

// decodeJSON unmarshals a response body, failing the test on malformed JSON.
func decodeJSON[T any](t testing.TB, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("response is not the expected JSON: %v\n%s", err, data)
	}
	return v
}
