package analyze

import (
	"fmt"
	"image"
	"image/color"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
)

// Annotate draws a result over a copy of its photo: each garment's box in its type's colour,
// its landmarks as dots (filled when visible, rings when not) and a label with its type,
// category and score above the box.
func Annotate(img image.Image, r Result) *image.RGBA {
	out := imageio.RGBA(img)
	if out == img { // never draw on the caller's image
		cp := *out
		cp.Pix = append([]uint8(nil), out.Pix...)
		out = &cp
	}
	b := out.Bounds()
	scale := max(1, min(b.Dx(), b.Dy())/300)
	for _, g := range r.Garments {
		t, _ := fashion.ParseGarmentType(g.Type)
		c := imageio.ClassColor(int(t))
		imageio.DrawBox(out, g.Box, c, scale*2)
		for _, l := range g.Landmarks {
			imageio.DrawDot(out, l.X, l.Y, scale*3, c, l.Visible)
		}
		text := fmt.Sprintf("%s %.2f", g.Type, g.Score)
		if g.Category.Name != "" && g.Category.Name != g.Type {
			text = fmt.Sprintf("%s %s %.2f", g.Type, g.Category.Name, g.Score)
		}
		y := int(g.Box[1]) - imageio.LabelSize(text).Y
		if y < 0 {
			y = int(g.Box[1]) + scale*2
		}
		imageio.DrawLabel(out, int(g.Box[0]), y, text, color.White, c)
	}
	return out
}
