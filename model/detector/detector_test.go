package detector

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

func TestNMS(t *testing.T) {
	// IoU([0,0,10,10], [1,0,11,10]) = 90/110 = 0.818; IoU([0,0,10,10], [5,0,15,10]) = 50/150 = 0.333.
	a := Detection{Box: [4]float32{0, 0, 10, 10}, Class: 0, Score: 0.9}
	b := Detection{Box: [4]float32{1, 0, 11, 10}, Class: 0, Score: 0.8}
	c := Detection{Box: [4]float32{5, 0, 15, 10}, Class: 0, Score: 0.7}
	bOther := Detection{Box: b.Box, Class: 1, Score: 0.8}
	for _, tc := range []struct {
		name string
		in   []Detection
		iou  float64
		want []Detection
	}{
		{"overlap suppressed", []Detection{b, a}, 0.5, []Detection{a}},
		{"low overlap kept", []Detection{c, a}, 0.5, []Detection{a, c}},
		{"threshold above IoU keeps both", []Detection{a, b}, 0.85, []Detection{a, b}},
		{"other class kept", []Detection{a, bOther}, 0.5, []Detection{a, bOther}},
		// b is suppressed by a, so c is only compared with a (0.333) and kept.
		{"chain", []Detection{a, b, c}, 0.3, []Detection{a}},
		{"chain at 0.5", []Detection{a, b, c}, 0.5, []Detection{a, c}},
		{"empty", nil, 0.5, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NMS(tc.in, tc.iou)
			if len(got) != len(tc.want) {
				t.Fatalf("NMS = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("NMS = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestConsistency(t *testing.T) {
	types := []fashion.GarmentType{fashion.Upper, fashion.Lower, fashion.Full}
	upper := [4]float32{10, 10, 50, 50}
	lower := [4]float32{12, 45, 48, 100}
	full := [4]float32{8, 8, 52, 102}
	for _, tc := range []struct {
		name string
		in   []Detection
		want []float32 // scores in input order
	}{
		{"upper above lower: unchanged",
			[]Detection{{upper, 0, 0.9}, {lower, 1, 0.8}}, []float32{0.9, 0.8}},
		{"upper below lower: weaker penalised",
			[]Detection{{lower, 0, 0.9}, {upper, 1, 0.4}}, []float32{0.9, 0.32}},
		{"different figures: unchanged",
			[]Detection{{[4]float32{200, 60, 240, 100}, 0, 0.9}, {upper, 1, 0.4}}, []float32{0.9, 0.4}},
		{"full stronger than pair: pair penalised",
			[]Detection{{upper, 0, 0.4}, {lower, 1, 0.3}, {full, 2, 0.8}}, []float32{0.32, 0.24, 0.8}},
		{"pair stronger than full: full penalised",
			[]Detection{{upper, 0, 0.9}, {lower, 1, 0.8}, {full, 2, 0.5}}, []float32{0.9, 0.8, 0.4}},
		{"evidence for both: unchanged",
			[]Detection{{upper, 0, 0.9}, {lower, 1, 0.8}, {full, 2, 0.7}}, []float32{0.9, 0.8, 0.7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Consistency(tc.in, types)
			for i, d := range tc.in {
				found := false
				for _, g := range got {
					if g.Box == d.Box && g.Class == d.Class {
						found = true
						if math.Abs(float64(g.Score-tc.want[i])) > 1e-6 {
							t.Errorf("detection %d score %v, want %v", i, g.Score, tc.want[i])
						}
					}
				}
				if !found {
					t.Errorf("detection %d lost", i)
				}
			}
			for i := 1; i < len(got); i++ {
				if got[i].Score > got[i-1].Score {
					t.Errorf("not sorted: %v", got)
				}
			}
		})
	}
}

// TestTargetsDecode checks that decoding the training targets gives back the boxes.
func TestTargetsDecode(t *testing.T) {
	const g, c = 16, 2
	boxes := []Box{{Box: [4]float32{10.5, 20, 60, 90.5}, Class: 0}, {Box: [4]float32{70, 8, 120, 40}, Class: 1}}
	heat := make([]float32, g*g*c)
	size := make([]float32, g*g*2)
	offset := make([]float32, g*g*2)
	mask := make([]float32, g*g)
	drawTargets(heat, size, offset, mask, boxes, g, c)
	dets := decodeMaps(heat, size, offset, g, c, 0.99)
	if len(dets) != len(boxes) {
		t.Fatalf("decoded %d boxes, want %d: %v", len(dets), len(boxes), dets)
	}
	for _, b := range boxes {
		ok := false
		for _, d := range dets {
			if d.Class == b.Class && maxDiff(d.Box, b.Box) < 1e-3 {
				ok = true
			}
		}
		if !ok {
			t.Errorf("box %v not decoded: %v", b, dets)
		}
	}
}

func maxDiff(a, b [4]float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// toyScenes draws a red "upper" rectangle above a blue "lower" one at random places.
func toyScenes(n, size int) *Scenes {
	rng := rand.New(rand.NewPCG(3, 4))
	sc := &Scenes{Size: size, Classes: 3, Norm: imageio.ImageNetNorm, Flip: true}
	for range n {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{200, 200, 200, 255}), image.Point{}, draw.Src)
		x0, y0 := rng.IntN(size/2), rng.IntN(size/4)
		w, h := size/4+rng.IntN(size/4), size/5+rng.IntN(size/8)
		up := image.Rect(x0, y0, x0+w, y0+h)
		lo := image.Rect(x0+2, y0+h, x0+w-2, min(y0+2*h+size/8, size))
		draw.Draw(img, up, image.NewUniform(color.RGBA{200, 30, 30, 255}), image.Point{}, draw.Src)
		draw.Draw(img, lo, image.NewUniform(color.RGBA{30, 30, 200, 255}), image.Point{}, draw.Src)
		sc.Images = append(sc.Images, img)
		sc.Boxes = append(sc.Boxes, []Box{
			{Box: [4]float32{float32(up.Min.X), float32(up.Min.Y), float32(up.Max.X), float32(up.Max.Y)}, Class: 0},
			{Box: [4]float32{float32(lo.Min.X), float32(lo.Min.Y), float32(lo.Max.X), float32(lo.Max.Y)}, Class: 1},
		})
		sc.ToInput = append(sc.ToInput, imageio.Identity)
	}
	return sc
}

func tinyConfig() Config {
	return Config{
		Backbone: nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{8, 16, 16, 32}, Depths: [4]int{1, 1, 1, 1}, InputSize: 64},
		Neck:     16, Head: 16, Classes: TypeClasses(),
	}
}

// TestTinyDetectorTrains trains a tiny detector a few dozen steps: the loss must go down, and
// the trained detector must run end to end.
func TestTinyDetectorTrains(t *testing.T) {
	backend, err := compute.NewWithConfig("go:ops_sequential") // compute v0.1.2 deadlocks when parallel ops nest large matmuls
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	set := toyScenes(32, cfg.InputSize())
	const steps = 40
	store := train.InitStore(1)
	res, err := train.Run(context.Background(), backend, store, ModelFn(cfg), LossFn, set,
		train.Config{BatchSize: 8, Steps: steps, LearningRate: 3e-3, Seed: 1, CurvePoints: steps})
	if err != nil {
		t.Fatal(err)
	}
	curve := res.Curves["loss"]
	if len(curve) != steps {
		t.Fatalf("%d loss points, want %d", len(curve), steps)
	}
	mean := func(pts []train.Point) float64 {
		s := 0.0
		for _, p := range pts {
			s += p.Value
		}
		return s / float64(len(pts))
	}
	first, last := mean(curve[:5]), mean(curve[steps-5:])
	t.Logf("loss: first 5 steps %.4f, last 5 steps %.4f", first, last)
	if !(last < 0.7*first) {
		t.Errorf("loss did not decrease enough: first %.4f, last %.4f", first, last)
	}
	det, err := New(backend, store, cfg, set.Norm)
	if err != nil {
		t.Fatal(err)
	}
	defer det.Close()
	got, err := det.Detect([]image.Image{set.Images[0], image.NewRGBA(image.Rect(0, 0, 50, 30))}, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Detect returned %d results for 2 images", len(got))
	}
	r, err := det.Evaluate(set)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.PerClass["upper"]; !ok {
		t.Errorf("no per-class AP for upper: %+v", r)
	}
}

// TestZoom checks that the zoomed boxes still frame what they framed: the pixels just inside a
// mapped box are the rectangle's colour, those just outside are not; a box that leaves the
// zoomed image is dropped.
func TestZoom(t *testing.T) {
	const size = 64
	red := color.RGBA{255, 0, 0, 255}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{0, 0, 255, 255}), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(24, 24, 40, 40), image.NewUniform(red), image.Point{}, draw.Src)
	// Box of the red square in the continuous convention: pixels 24..39 span [23.5, 39.5].
	in := Box{Box: [4]float32{23.5, 23.5, 39.5, 39.5}, Class: 1}
	far := Box{Box: [4]float32{0, 0, 6, 6}, Class: 0}
	seen := 0
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		out, boxes := zoom(img, []Box{in, far}, size, 0.75, rng)
		var b *Box
		for i := range boxes {
			if boxes[i].Class == 1 {
				b = &boxes[i]
			}
		}
		if b == nil {
			continue // the square fell outside this crop
		}
		seen++
		rgba := out.(*image.RGBA)
		cx, cy := int((b.Box[0]+b.Box[2])/2), int((b.Box[1]+b.Box[3])/2)
		if c := rgba.RGBAAt(cx, cy); c.R < 200 {
			t.Errorf("seed %d: centre of mapped box %v is %v, not red", seed, b.Box, c)
		}
		if x := int(b.Box[0]) - 2; x >= 0 && rgba.RGBAAt(x, cy).R > 50 {
			t.Errorf("seed %d: left of mapped box %v is red", seed, b.Box)
		}
		if x := int(b.Box[2]) + 3; x < size && rgba.RGBAAt(x, cy).R > 50 {
			t.Errorf("seed %d: right of mapped box %v is red", seed, b.Box)
		}
		for _, bx := range boxes {
			if bx.Box[0] < -0.5 || bx.Box[2] > size-0.5 {
				t.Errorf("seed %d: box %v not clipped", seed, bx.Box)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("the square survived only %d of 20 zooms to 75%%", seen)
	}
	// At 25% the square (16 px) becomes 64 px wide: a kept one shows at least half its area.
	for seed := range uint64(20) {
		_, boxes := zoom(img, []Box{in}, size, 0.25, rand.New(rand.NewPCG(seed, 2)))
		for _, b := range boxes {
			if a := (b.Box[2] - b.Box[0]) * (b.Box[3] - b.Box[1]); a < minKept*64*64-1 {
				t.Errorf("seed %d: a mostly cut box was kept: %v (area %v)", seed, b.Box, a)
			}
		}
	}
}
