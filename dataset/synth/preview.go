package synth

import (
	"image"
	"image/color"
	"image/draw"

	xdraw "golang.org/x/image/draw"

	"github.com/atelier-ml/atelier/dataset"
)

// Colours of the contact sheet's overlay: one box colour per garment, green visible landmarks,
// orange occluded ones; truncated landmarks are outside the picture and not drawn.
var (
	boxColors     = []color.RGBA{{255, 40, 200, 255}, {0, 200, 255, 255}, {255, 230, 0, 255}}
	visibleDot    = color.RGBA{40, 230, 60, 255}
	occludedDot   = color.RGBA{255, 140, 0, 255}
	sheetBackdrop = color.RGBA{40, 40, 40, 255}
)

// ContactSheet lays photos out in a grid of cols columns of cell x cell pixels, each scaled to
// fit, with every garment's box and landmarks drawn over it.
func ContactSheet(photos []*Rendered, cols, cell int) *image.RGBA {
	rows := (len(photos) + cols - 1) / cols
	const gap = 4
	sheet := image.NewRGBA(image.Rect(0, 0, cols*(cell+gap)+gap, rows*(cell+gap)+gap))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(sheetBackdrop), image.Point{}, draw.Src)
	for i, p := range photos {
		b := p.Image.Bounds()
		f := float64(cell) / float64(max(b.Dx(), b.Dy()))
		x0, y0 := gap+(i%cols)*(cell+gap), gap+(i/cols)*(cell+gap)
		dst := image.Rect(x0, y0, x0+int(float64(b.Dx())*f), y0+int(float64(b.Dy())*f))
		xdraw.CatmullRom.Scale(sheet, dst, p.Image, b, xdraw.Src, nil)
		at := func(x, y float32) (int, int) { return x0 + int(float64(x)*f), y0 + int(float64(y)*f) }
		for gi, g := range p.Garments {
			bx0, by0 := at(g.Box[0], g.Box[1])
			bx1, by1 := at(g.Box[2], g.Box[3])
			outline(sheet, image.Rect(bx0, by0, bx1, by1).Intersect(dst), boxColors[gi%len(boxColors)])
			for _, l := range g.Landmarks {
				if !l.Labeled || l.Vis == dataset.Truncated {
					continue
				}
				c := visibleDot
				if l.Vis == dataset.Occluded {
					c = occludedDot
				}
				x, y := at(l.X, l.Y)
				draw.Draw(sheet, image.Rect(x-2, y-2, x+3, y+3).Intersect(dst), image.NewUniform(c), image.Point{}, draw.Src)
			}
		}
	}
	return sheet
}

func outline(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	u := image.NewUniform(c)
	for _, e := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, r.Min.Y+1)}, {image.Pt(r.Min.X, r.Max.Y-1), r.Max},
		{r.Min, image.Pt(r.Min.X+1, r.Max.Y)}, {image.Pt(r.Max.X-1, r.Min.Y), r.Max},
	} {
		draw.Draw(img, e.Intersect(r), u, image.Point{}, draw.Src)
	}
}

// Preview renders n photos of every kind the generator makes (shop views in each pose, street
// photos, landmark views of every variation, scenes) for a contact sheet.
func (g *Generator) Preview(n int) []*Rendered {
	var out []*Rendered
	for i := range n {
		it := g.Item(1000000 + i)
		switch i % 4 {
		case 0:
			out = append(out, g.ShopView(it, ShopPoses[(i/4)%len(ShopPoses)], 0, 256, 256))
		case 1:
			out = append(out, g.StreetView(it, 0, 300, 300))
		case 2:
			out = append(out, g.LandmarkView(it, 1+(i/4)%5, 0, 300, 300))
		default:
			out = append(out, g.Scene(i, 1+i%2, 300, 300))
		}
	}
	return out
}
