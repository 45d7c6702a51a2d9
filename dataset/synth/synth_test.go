package synth

import (
	"bytes"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

// TestWriteDeterministicAndValid writes a small dataset twice, with different worker counts: the
// two trees must be byte-identical, and every folder must load with no problems.
// TestWriteOnly checks that Options.Only renders one folder with every image, and refuses an
// unknown folder.
func TestWriteOnly(t *testing.T) {
	dir := t.TempDir()
	got, err := New(7).Write(dir, Options{Images: 12, Only: "fld"})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != 12 || len(entries) != 1 || entries[0].Name() != "fld" {
		t.Errorf("wrote %d images into %v, want 12 into fld alone", got, entries)
	}
	d, err := dataset.Load(dataset.FormatFLD, filepath.Join(dir, "fld"))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Samples) != 12 {
		t.Errorf("fld holds %d samples, want 12", len(d.Samples))
	}
	if _, err := New(7).Write(t.TempDir(), Options{Images: 12, Only: "shoes"}); err == nil {
		t.Error("an unknown folder was accepted")
	}
}

func TestWriteDeterministicAndValid(t *testing.T) {
	const n = 60
	dirs := []string{t.TempDir(), t.TempDir()}
	for i, dir := range dirs {
		got, err := New(7).Write(dir, Options{Images: n, Workers: 1 + 2*i})
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("wrote %d images, want %d", got, n)
		}
	}
	files := 0
	err := filepath.WalkDir(dirs[0], func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dirs[0], p)
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(dirs[1], rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same seed", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < n {
		t.Fatalf("only %d files written", files)
	}
	plan := Plan(n)
	for i, f := range Folders {
		d, err := dataset.Load(f.Format, filepath.Join(dirs[0], f.Name))
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		if len(d.Samples) != plan[i] {
			t.Errorf("%s: %d samples, want %d", f.Name, len(d.Samples), plan[i])
		}
	}
}

// photos renders a mix of every kind of photo the generator makes.
func photos(g *Generator, n int) []*Rendered {
	var out []*Rendered
	for i := range n {
		it := g.Item(i)
		out = append(out, g.ShopView(it, ShopPoses[i%len(ShopPoses)], 0, 200, 260),
			g.StreetView(it, 0, 240, 240), g.LandmarkView(it, 1+i%5, 0, 240, 240), g.Scene(i, 1+i%3, 240, 240))
	}
	return out
}

// TestLandmarks checks every labelled landmark against the pixels: a visible one lies inside its
// garment's box, on the garment's own drawn mask and on a pixel the garment owns; an occluded one
// lies on the garment's mask but something else owns the pixel; a truncated one was outside the
// picture and is kept on its border.
func TestLandmarks(t *testing.T) {
	counts := map[dataset.Visibility]int{}
	for pi, p := range photos(New(3), 40) {
		b := p.Image.Bounds()
		w, h := b.Dx(), b.Dy()
		for gi, g := range p.Garments {
			if g.Box[0] < 0 || g.Box[1] < 0 || g.Box[2] > float32(w) || g.Box[3] > float32(h) || g.Box[2] <= g.Box[0] || g.Box[3] <= g.Box[1] {
				t.Errorf("photo %d garment %d: bad box %v in %dx%d", pi, gi, g.Box, w, h)
			}
			for l, pt := range g.Landmarks {
				if !pt.Labeled {
					continue
				}
				counts[pt.Vis]++
				x, y := int(pt.X), int(pt.Y)
				name := fashion.Landmark(l).String()
				switch pt.Vis {
				case dataset.Visible:
					if pt.X < g.Box[0] || pt.X > g.Box[2] || pt.Y < g.Box[1] || pt.Y > g.Box[3] {
						t.Errorf("photo %d garment %d: visible %s (%.1f,%.1f) outside box %v", pi, gi, name, pt.X, pt.Y, g.Box)
					}
					if c := p.Coverage[gi].AlphaAt(x, y).A; c < 128 {
						t.Errorf("photo %d garment %d: visible %s (%.1f,%.1f) not on the garment (coverage %d)", pi, gi, name, pt.X, pt.Y, c)
					}
					if o := p.Owner[y*w+x]; int(o) != gi+1 {
						t.Errorf("photo %d garment %d: visible %s (%.1f,%.1f) on a pixel of %d", pi, gi, name, pt.X, pt.Y, o)
					}
				case dataset.Occluded:
					if c := p.Coverage[gi].AlphaAt(x, y).A; c < 128 {
						t.Errorf("photo %d garment %d: occluded %s (%.1f,%.1f) not on the garment (coverage %d)", pi, gi, name, pt.X, pt.Y, c)
					}
					if o := p.Owner[y*w+x]; int(o) == gi+1 {
						t.Errorf("photo %d garment %d: occluded %s (%.1f,%.1f) is in plain sight", pi, gi, name, pt.X, pt.Y)
					}
				case dataset.Truncated:
					if x > 0 && y > 0 && x < w-1 && y < h-1 {
						t.Errorf("photo %d garment %d: truncated %s (%.1f,%.1f) inside the picture", pi, gi, name, pt.X, pt.Y)
					}
				}
			}
		}
	}
	// The mix must exercise all three cases, or the checks above prove little.
	for _, v := range []dataset.Visibility{dataset.Visible, dataset.Occluded, dataset.Truncated} {
		if counts[v] == 0 {
			t.Errorf("no landmark with visibility %d in the sample: %v", v, counts)
		}
	}
	t.Logf("landmarks by visibility: %v", counts)
}

// shopPhoto renders an item on a model facing the camera, and returns the photo with the body
// and the homography, so a test can look at known body points.
func shopPhoto(it *Item, seed uint64, fill float64) (*Rendered, *body, homography) {
	r := New(seed).rng(streamShop, 0, 0)
	b := newBody(r, shopPose)
	clothes, subject := outfit(r, it)
	wr := newWearer(r, b, clothes, only(len(clothes), subject))
	y0, y1 := frame(it)
	wr.h = camera{y0: y0, y1: y1, fill: fill, yaw: 1}.homography(240, 300)
	out, _ := render(r, &photo{w: 240, h: 300, wearers: []*wearer{wr}, light: newLight(r, 240, 300, 0.1)})
	return out, b, wr.h
}

func label(g dataset.Garment, name string) int8 {
	for i, d := range attrDefs {
		if d.name == name {
			return g.Attributes[i]
		}
	}
	panic("no attribute " + name)
}

// covered says whether the garment covers the canonical point p in the photo.
func covered(p *Rendered, h homography, q pt) bool {
	x := h.apply(q)
	return p.Coverage[0].AlphaAt(int(x.X), int(x.Y)).A >= 128
}

// TestAttributesMatchPixels renders items of every kind and checks attribute labels against what
// was drawn: sleeve lengths against the garment's mask along the arm, hem lengths against the
// lowest garment pixel, prints against the spread of fabric colours, colours against the mean.
func TestAttributesMatchPixels(t *testing.T) {
	g := New(11)
	for n := range 90 {
		it := g.ItemOfKind(Kinds[n%len(Kinds)], n)
		p, b, h := shopPhoto(it, uint64(n), 0.9)
		gm := p.Garments[0]
		for i, v := range gm.Attributes {
			if v != 1 && v != -1 && !(v == 0 && (attrDefs[i].needs != anyPart || attrDefs[i].repeat(it) > 0)) {
				t.Errorf("item %d (%s): attribute %q has label %d", n, it.Kind.Category.Name, attrDefs[i].name, v)
			}
		}
		if it.Kind.Type != fashion.Lower && label(gm, "long sleeve") != 0 {
			arm := b.armLine(0)
			armLen := b.arm[0][1].sub(b.arm[0][0]).len() + b.arm[0][2].sub(b.arm[0][1]).len()
			at := func(f float64) bool { q, _ := along(arm, 18+f*armLen); return covered(p, h, q) }
			want := map[string]bool{"sleeveless": !at(0.15), "short sleeve": at(0.15) && !at(0.5), "long sleeve": at(0.95)}
			for name, drawn := range want {
				if got := label(gm, name) == 1; got != drawn {
					t.Errorf("item %d (%s, sleeve %.2f): %q labelled %v, drawn %v", n, it.Kind.Category.Name, it.Sleeve, name, got, drawn)
				}
			}
		}
		if it.Kind.Skirt && label(gm, "mini") != 0 {
			// The lowest garment pixel on the centre line, back in body units.
			low := 0.0
			for y := p.Image.Bounds().Dy() - 1; y >= 0; y-- {
				c := h.apply(pt{0, 0})
				if p.Coverage[0].AlphaAt(int(c.X), y).A >= 128 {
					low = h.inverse().apply(pt{c.X, float64(y) + 1}).Y
					break
				}
			}
			if label(gm, "mini") == 1 && low > miniMaxY+12 || label(gm, "maxi") == 1 && low < midiMaxY {
				t.Errorf("item %d (%s): hem drawn at %.0f, labels mini %d midi %d maxi %d", n, it.Kind.Category.Name, low, label(gm, "mini"), label(gm, "midi"), label(gm, "maxi"))
			}
		}
		if it.Fabric == Cotton && it.Pattern != Graphic {
			if printed, spread := it.Pattern != Solid, printSpread(it); printed != (spread > 0.1) {
				t.Errorf("item %d (%s): print %v but %.2f of its fabric is far from its colour", n, it.Kind.Category.Name, it.Pattern, spread)
			}
			if _, mean := fabricColours(p, it); it.Pattern == Solid {
				if name := nearestColour(mean); label(gm, name) != 1 {
					t.Errorf("item %d: mean colour %v is nearest %s, which is not among its labels", n, mean, name)
				}
			}
		}
	}
}

// printSpread samples an item's fabric over a patch of its front (in even light, without the
// parts drawn over it) and returns the share of samples far from its colour.
func printSpread(it *Item) float64 {
	sh := garmentShader(it, lighting{level: 1, w: 1, h: 1}, colorblockY(it))
	base := toRGB(palette[it.Color].c)
	far, n := 0, 0
	y0 := 200.0
	if it.Kind.Type == fashion.Lower {
		y0 = it.WaistY + 20
	}
	for v := y0; v < y0+200; v += 3 {
		for u := -50.0; u <= 50; u += 3 {
			c, _ := sh(u, v, int(u), int(v))
			d := 0.0
			for k := range 3 {
				d += math.Abs(float64(c[k] - base[k]))
			}
			if d > 0.3 {
				far++
			}
			n++
		}
	}
	return float64(far) / float64(n)
}

// fabricColours returns the share of the garment's pixels far from its base colour and the mean
// colour of the others (the fabric, without details of other colours).
func fabricColours(p *Rendered, it *Item) (float64, rgb) {
	base := toRGB(palette[it.Color].c)
	var far, n int
	var sum [3]float64
	for i, o := range p.Owner {
		if o != 1 {
			continue
		}
		c := p.Image.Pix[4*i : 4*i+3]
		var d float64
		for k := range 3 {
			d += math.Abs(float64(c[k])/255 - float64(base[k]))
		}
		n++
		if d > 0.3 {
			far++
			continue
		}
		for k := range 3 {
			sum[k] += float64(c[k]) / 255
		}
	}
	near := float64(max(n-far, 1))
	return float64(far) / float64(max(n, 1)), rgb{float32(sum[0] / near), float32(sum[1] / near), float32(sum[2] / near)}
}

func nearestColour(c rgb) string {
	best, bestD := "", math.Inf(1)
	for _, p := range palette {
		q := toRGB(p.c)
		d := 0.0
		for k := range 3 {
			d += float64((c[k] - q[k]) * (c[k] - q[k]))
		}
		if d < bestD {
			best, bestD = p.name, d
		}
	}
	return best
}

// TestUnresolvedRepeatsUnknown checks that a print or fabric is labelled unknown exactly when its
// repeat is under two pixels (minRepeatPx) in the photo, and that the other prints and fabrics
// stay negative.
func TestUnresolvedRepeatsUnknown(t *testing.T) {
	kind, _ := KindByName("Tee")
	tests := []struct {
		fill          float64 // share of the photo's 300 px height that the tee's frame spans
		striped, knit int8
		dotted, denim int8
	}{
		{fill: 0.9, striped: 1, knit: 1, dotted: -1, denim: -1}, // 0.47 px per unit: stripes 4.7 px, ribs 2.3 px
		{fill: 0.6, striped: 1, knit: 0, dotted: -1, denim: -1}, // 0.31: 3.1 and 1.6 px
		{fill: 0.3, striped: 0, knit: 0, dotted: -1, denim: -1}, // 0.16: 1.6 and 0.8 px
	}
	for _, tc := range tests {
		it := New(3).ItemOfKind(kind, 0)
		it.Pattern, it.PatScale, it.Fabric = Striped, 10, Knit
		p, _, h := shopPhoto(it, 1, tc.fill)
		g := p.Garments[0]
		colour := palette[it.Color].name
		got := [5]int8{label(g, "striped"), label(g, "knit"), label(g, "dotted"), label(g, "denim"), label(g, colour)}
		if want := [5]int8{tc.striped, tc.knit, tc.dotted, tc.denim, 1}; got != want {
			t.Errorf("fill %.1f (%.2f px per unit): striped, knit, dotted, denim, "+colour+" labelled %v, want %v",
				tc.fill, h.resolution(pt{0, 300}), got, want)
		}
	}
}

// TestUnknownOnlyWhenHidden checks that a 0 label goes with a hidden part: sleeve, hem and neck
// attributes are unknown only when both of the matching landmarks are not visible.
func TestUnknownOnlyWhenHidden(t *testing.T) {
	slots := map[anchor][2]fashion.Landmark{
		sleeveAnchor: {fashion.LeftSleeve, fashion.RightSleeve},
		hemAnchor:    {fashion.LeftHem, fashion.RightHem},
		collarAnchor: {fashion.LeftCollar, fashion.RightCollar},
	}
	zeros := 0
	for pi, p := range photos(New(5), 30) {
		for _, g := range p.Garments[:1] {
			for i, v := range g.Attributes {
				s, ok := slots[attrDefs[i].needs]
				if !ok || v != 0 {
					continue
				}
				zeros++
				for _, l := range s {
					if g.Landmarks[l].Labeled && g.Landmarks[l].Vis == dataset.Visible {
						t.Errorf("photo %d: %q unknown though %s is visible", pi, attrDefs[i].name, l)
					}
				}
			}
		}
	}
	if zeros == 0 {
		t.Error("no unknown labels at all in a sample with street and zoomed photos")
	}
}
