package imageio

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// greyRow returns a w x 1 image whose pixels have the given grey values.
func greyRow(vals ...uint8) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, len(vals), 1))
	for x, v := range vals {
		m.SetRGBA(x, 0, color.RGBA{v, v, v, 255})
	}
	return m
}

func reds(m *image.RGBA) []uint8 {
	var r []uint8
	for i := 0; i < len(m.Pix); i += 4 {
		r = append(r, m.Pix[i])
	}
	return r
}

func near(a, b, tol float32) bool { return float32(math.Abs(float64(a-b))) <= tol }

func TestResize(t *testing.T) {
	// Destination pixel centres 0..3 fall on source x = -0.25, 0.25, 0.75, 1.25; bilinear
	// interpolation between 0 and 200, clamped at the edges, gives 0, 50, 150, 200.
	out, a := Resize(greyRow(0, 200), 4, 1, draw.BiLinear)
	if got, want := reds(out), []uint8{0, 50, 150, 200}; !bytes.Equal(got, want) {
		t.Errorf("resized row %v, want %v", got, want)
	}
	// Source pixel centre 0 (edge -0.5..0.5) maps to 0.5 (edge -0.5..1.5) in the double-width image.
	if x, _ := a.Apply(0, 0); x != 0.5 {
		t.Errorf("Affine maps x=0 to %v, want 0.5", x)
	}
	if x, _ := a.Apply(1, 0); x != 2.5 {
		t.Errorf("Affine maps x=1 to %v, want 2.5", x)
	}
}

func TestCrop(t *testing.T) {
	src := greyRow(10, 20, 30, 40)
	fill := color.RGBA{7, 7, 7, 255}
	out, a := Crop(src, image.Rect(-1, 0, 2, 1), fill)
	if got, want := reds(out), []uint8{7, 10, 20}; !bytes.Equal(got, want) {
		t.Errorf("crop %v, want %v", got, want)
	}
	if x, _ := a.Apply(0, 0); x != 1 {
		t.Errorf("x=0 maps to %v in the crop, want 1", x)
	}
	// A crop wholly outside the image is all fill.
	out, _ = Crop(src, image.Rect(10, 10, 12, 11), fill)
	if got, want := reds(out), []uint8{7, 7}; !bytes.Equal(got, want) {
		t.Errorf("outside crop %v, want %v", got, want)
	}
}

func TestExpandBox(t *testing.T) {
	box := [4]float32{10, 10, 19, 29} // 10 x 20 pixels
	for _, tc := range []struct {
		margin, aspect float64
		want           image.Rectangle
	}{
		{0, 0, image.Rect(10, 10, 20, 30)},
		{0.5, 0, image.Rect(5, 0, 25, 40)},
		{0, 1, image.Rect(5, 10, 25, 30)},
		{0, 0.25, image.Rect(10, 0, 20, 40)},
	} {
		if got := ExpandBox(box, tc.margin, tc.aspect); got != tc.want {
			t.Errorf("ExpandBox(margin %v, aspect %v) = %v, want %v", tc.margin, tc.aspect, got, tc.want)
		}
	}
}

func TestFlipH(t *testing.T) {
	out, a := FlipH(greyRow(1, 2, 3))
	if got, want := reds(out), []uint8{3, 2, 1}; !bytes.Equal(got, want) {
		t.Errorf("flipped %v, want %v", got, want)
	}
	for x, want := range []float32{2, 1, 0} {
		if got, _ := a.Apply(float32(x), 0); got != want {
			t.Errorf("pixel %d flips to %v, want %v", x, got, want)
		}
	}
	if got, want := a.Box([4]float32{0, 0, 1, 0}), [4]float32{1, 0, 2, 0}; got != want {
		t.Errorf("flipped box %v, want %v", got, want)
	}
}

func TestLetterbox(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 4, 2))
	draw.Draw(src, src.Rect, image.NewUniform(color.RGBA{200, 100, 50, 255}), image.Point{}, draw.Src)
	fill := color.RGBA{0, 0, 0, 255}
	out, a := Letterbox(src, 4, fill, nil)
	for y := range 4 {
		want := fill
		if y == 1 || y == 2 {
			want = color.RGBA{200, 100, 50, 255}
		}
		if got := out.RGBAAt(2, y); got != want {
			t.Errorf("row %d = %v, want %v", y, got, want)
		}
	}
	if x, y := a.Apply(3, 1); x != 3 || y != 2 {
		t.Errorf("(3,1) maps to (%v,%v), want (3,2)", x, y)
	}
}

func TestAffineAlgebra(t *testing.T) {
	a := Affine{SX: 2, SY: 0.5, TX: 3, TY: -1}
	b := Affine{SX: -1, SY: 1, TX: 9, TY: 4}
	x, y := b.Apply(a.Apply(5, 6))
	if gx, gy := a.Then(b).Apply(5, 6); gx != x || gy != y {
		t.Errorf("Then gives (%v,%v), applying in turn (%v,%v)", gx, gy, x, y)
	}
	if gx, gy := a.Inverse().Apply(a.Apply(5, 6)); !near(gx, 5, 1e-6) || !near(gy, 6, 1e-6) {
		t.Errorf("Inverse round trip gives (%v,%v)", gx, gy)
	}
}

// brightest returns the centroid of the pixels brighter than half the maximum red value.
func brightest(m *image.RGBA) (float32, float32) {
	var mx uint8
	for i := 0; i < len(m.Pix); i += 4 {
		mx = max(mx, m.Pix[i])
	}
	var sx, sy, n float32
	for y := range m.Rect.Dy() {
		for x := range m.Rect.Dx() {
			if m.RGBAAt(x, y).R > mx/2 {
				sx, sy, n = sx+float32(x), sy+float32(y), n+1
			}
		}
	}
	return sx / n, sy / n
}

// spot is a black w x h image with a white 3x3 square centred on (x, y).
func spot(w, h, x, y int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Rect, image.Black, image.Point{}, draw.Src)
	draw.Draw(m, image.Rect(x-1, y-1, x+2, y+2), image.White, image.Point{}, draw.Src)
	return m
}

func TestCropAroundMovesPointsWithPixels(t *testing.T) {
	// A landmark drawn as a spot must land where the returned Affine puts it, through crop,
	// padding, resize, jitter and flip.
	src := spot(100, 80, 60, 40)
	box := [4]float32{40, 20, 79, 59}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		out, a := RandomCropAround(rng, src, box, CropJitter{Margin: 0.2, Scale: 0.2, Shift: 0.1}, 128, 96, color.Black)
		if i%2 == 1 {
			var f Affine
			out, f = FlipH(out)
			a = a.Then(f)
		}
		wx, wy := a.Apply(60, 40)
		gx, gy := brightest(out)
		if !near(gx, wx, 0.75) || !near(gy, wy, 0.75) {
			t.Errorf("round %d: spot at (%.2f,%.2f), Affine says (%.2f,%.2f)", i, gx, gy, wx, wy)
		}
	}
}

func TestRandomCropWithoutJitterIsCropAround(t *testing.T) {
	src := testImage(50, 40)
	box := [4]float32{5, 5, 30, 25}
	want, wa := CropAround(src, box, 0.1, 32, 32, color.Black)
	got, ga := RandomCropAround(rand.New(rand.NewPCG(3, 4)), src, box, CropJitter{Margin: 0.1}, 32, 32, color.Black)
	if !bytes.Equal(got.Pix, want.Pix) || ga != wa {
		t.Error("RandomCropAround without jitter differs from CropAround")
	}
}

func TestAdjustColor(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 1))
	src.SetRGBA(0, 0, color.RGBA{100, 100, 100, 255})
	src.SetRGBA(1, 0, color.RGBA{200, 200, 200, 255})
	src.SetRGBA(2, 0, color.RGBA{255, 0, 0, 255})
	for _, tc := range []struct {
		name    string
		b, c, s float32
		want    []color.RGBA
	}{
		{"identity", 1, 1, 1, []color.RGBA{{100, 100, 100, 255}, {200, 200, 200, 255}, {255, 0, 0, 255}}},
		// brightness 1.5 clamps: 150, 255(300), and red stays 255.
		{"brightness", 1.5, 1, 1, []color.RGBA{{150, 150, 150, 255}, {255, 255, 255, 255}, {255, 0, 0, 255}}},
		// contrast 0: every channel becomes the mean luma, (100 + 200 + 0.299*255)/3 = 125.4.
		{"contrast 0", 1, 0, 1, []color.RGBA{{125, 125, 125, 255}, {125, 125, 125, 255}, {125, 125, 125, 255}}},
		// saturation 0: red becomes its luma 0.299*255 = 76.2; greys stay.
		{"saturation 0", 1, 1, 0, []color.RGBA{{100, 100, 100, 255}, {200, 200, 200, 255}, {76, 76, 76, 255}}},
	} {
		out := AdjustColor(src, tc.b, tc.c, tc.s)
		for x, want := range tc.want {
			if got := out.RGBAAt(x, 0); got != want {
				t.Errorf("%s: pixel %d = %v, want %v", tc.name, x, got, want)
			}
		}
	}
	if out := (ColorJitter{}).Apply(rand.New(rand.NewPCG(1, 1)), src); !bytes.Equal(out.Pix, src.Pix) {
		t.Error("zero ColorJitter changed the image")
	}
}

func TestTensorRoundTrip(t *testing.T) {
	norm := Norm{Mean: []float32{0.5, 0, 1}, Std: []float32{0.25, 1, 0.5}}
	a := image.NewRGBA(image.Rect(0, 0, 2, 1))
	a.SetRGBA(0, 0, color.RGBA{255, 0, 255, 255})
	a.SetRGBA(1, 0, color.RGBA{0, 255, 51, 255})
	b := testImage(2, 1)
	data, err := Tensor(nil, []image.Image{a, b}, norm)
	if err != nil {
		t.Fatal(err)
	}
	// (v/255 - mean)/std per channel, NHWC.
	want := []float32{2, 0, 0, -2, 1, -1.6}
	for i, w := range want {
		if !near(data[i], w, 1e-5) {
			t.Errorf("value %d = %v, want %v", i, data[i], w)
		}
	}
	if len(data) != 2*2*3 {
		t.Fatalf("tensor has %d values, want 12", len(data))
	}
	for i, img := range []*image.RGBA{a, b} {
		back, err := Image(data[i*6:(i+1)*6], 1, 2, norm)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Pix, img.Pix) {
			t.Errorf("image %d round trip %v, want %v", i, back.Pix, img.Pix)
		}
	}
	grey := Norm{Mean: []float32{0.5}, Std: []float32{0.5}}
	g := image.NewGray(image.Rect(0, 0, 2, 1))
	g.Pix = []uint8{0, 255}
	data, err = Tensor(data, []image.Image{g}, grey)
	if err != nil || len(data) != 2 || data[0] != -1 || data[1] != 1 {
		t.Errorf("grey tensor %v, %v; want [-1 1]", data, err)
	}
	if _, err := Tensor(nil, []image.Image{a, testImage(3, 1)}, norm); err == nil {
		t.Error("mixed sizes accepted")
	}
	if _, err := Tensor(nil, []image.Image{a}, Norm{Mean: []float32{0, 0}, Std: []float32{1, 1}}); err == nil {
		t.Error("two-channel normalisation accepted")
	}
}
