package imageio

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"testing"
)

type pixelCase struct {
	x, y int
	on   bool
}

func checkPixels(t *testing.T, what string, m *image.RGBA, c color.RGBA, cases []pixelCase) {
	t.Helper()
	for _, tc := range cases {
		if got := m.RGBAAt(tc.x, tc.y) == c; got != tc.on {
			t.Errorf("%s: pixel (%d,%d) drawn = %v, want %v", what, tc.x, tc.y, got, tc.on)
		}
	}
}

func TestDrawBox(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 10, 10))
	c := ClassColor(3)
	DrawBox(m, [4]float32{2, 2, 5, 6}, c, 1)
	checkPixels(t, "box", m, c, []pixelCase{
		{2, 2, true}, {5, 2, true}, {2, 6, true}, {5, 6, true}, {3, 2, true}, {5, 4, true},
		{3, 3, false}, {4, 5, false}, {1, 2, false}, {6, 6, false}, {2, 7, false},
	})
	// A box partly outside the image is clipped, not a panic.
	DrawBox(m, [4]float32{-5, -5, 20, 20}, c, 2)
	checkPixels(t, "clipped box", m, c, []pixelCase{{0, 0, false}, {9, 9, false}, {4, 4, false}})
}

func TestDrawDot(t *testing.T) {
	c := ClassColor(0)
	filled := image.NewRGBA(image.Rect(0, 0, 10, 10))
	DrawDot(filled, 5, 5, 2, c, true)
	checkPixels(t, "filled dot", filled, c, []pixelCase{
		{5, 5, true}, {7, 5, true}, {5, 3, true}, {6, 6, true}, {7, 7, false}, {8, 5, false},
	})
	hollow := image.NewRGBA(image.Rect(0, 0, 10, 10))
	DrawDot(hollow, 5, 5, 2, c, false)
	checkPixels(t, "hollow dot", hollow, c, []pixelCase{
		{5, 5, false}, {6, 5, false}, {7, 5, true}, {5, 3, true}, {6, 6, true}, {7, 7, false},
	})
	DrawDot(hollow, -1, 0, 3, c, true) // clipped at the corner
	checkPixels(t, "clipped dot", hollow, c, []pixelCase{{0, 0, true}})
}

func TestDrawLabel(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 60, 30))
	fg, bg := color.RGBA{255, 255, 255, 255}, color.RGBA{200, 0, 0, 255}
	r := DrawLabel(m, 3, 4, "Tee", fg, bg)
	if r.Min != image.Pt(3, 4) || r.Size() != LabelSize("Tee") || r.Dx() != 3*7+2*labelPad {
		t.Fatalf("label rectangle %v, size %v", r, LabelSize("Tee"))
	}
	var nfg, nbg int
	for y := range m.Rect.Dy() {
		for x := range m.Rect.Dx() {
			p := image.Pt(x, y)
			switch c := m.RGBAAt(x, y); {
			case !p.In(r) && c != (color.RGBA{}):
				t.Fatalf("pixel %v outside the label was painted", p)
			case p.In(r) && c == fg:
				nfg++
			case p.In(r) && c == bg:
				nbg++
			}
		}
	}
	if nfg < 10 || nbg < 10 {
		t.Errorf("label has %d text pixels and %d background pixels", nfg, nbg)
	}
}

func TestEncodeJPEG(t *testing.T) {
	var b bytes.Buffer
	src := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range src.Pix {
		src.Pix[i] = 128
	}
	if err := EncodeJPEG(&b, src, 0); err != nil {
		t.Fatal(err)
	}
	img, f, err := Decode(&b, Limits{})
	if err != nil || f != JPEG {
		t.Fatalf("decoding our JPEG: %s, %v", f, err)
	}
	if r, _, _, _ := img.At(8, 8).RGBA(); math.Abs(float64(r>>8)-128) > 2 {
		t.Errorf("grey 128 came back as %d", r>>8)
	}
}

func TestPlotCurves(t *testing.T) {
	var b bytes.Buffer
	loss := Series{Name: "train loss", Y: []float64{2, 1.2, 0.8, math.NaN(), 0.5, 0.45}}
	val := Series{Name: "val loss", X: []float64{0, 2, 5}, Y: []float64{2.1, 1.0, 0.6}}
	if err := PlotCurves(&b, "loss", loss, val); err != nil {
		t.Fatal(err)
	}
	img, f, err := Decode(&b, Limits{})
	if err != nil || f != PNG {
		t.Fatalf("plot is not a PNG: %v", err)
	}
	if img.Bounds().Dx() != plotW || img.Bounds().Dy() != plotH {
		t.Errorf("plot is %v", img.Bounds())
	}
	m := RGBA(img)
	count := func(c color.RGBA) int {
		n := 0
		for y := range plotH {
			for x := range plotW {
				if m.RGBAAt(x, y) == c {
					n++
				}
			}
		}
		return n
	}
	// Each curve is drawn (hundreds of pixels of its colour) and the legend holds a swatch.
	for i := range 2 {
		if n := count(ClassColor(i)); n < 200 {
			t.Errorf("series %d has %d pixels of its colour", i, n)
		}
	}
	for _, tc := range []struct {
		name   string
		series []Series
	}{
		{"no points", []Series{{Name: "x", Y: []float64{math.NaN()}}}},
		{"mismatched", []Series{{Name: "x", X: []float64{1}, Y: []float64{1, 2}}}},
	} {
		if err := PlotCurves(&b, "t", tc.series...); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0.13, 2.71, []float64{0, 1, 2, 3}},         // raw step 0.516 rounds up to 1
		{0, 100, []float64{0, 20, 40, 60, 80, 100}}, // raw step 20
		{-0.03, 0.02, []float64{-0.03, -0.02, -0.01, 0, 0.01, 0.02}},
		{5, 5, []float64{4, 4.5, 5, 5.5, 6}}, // a flat curve gets a range around it
	} {
		got, lo, hi := ticks(tc.lo, tc.hi)
		if len(got) != len(tc.want) || lo != got[0] || hi != got[len(got)-1] {
			t.Errorf("ticks(%v, %v) = %v on [%v, %v], want %v", tc.lo, tc.hi, got, lo, hi, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-12 {
				t.Errorf("ticks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
}
