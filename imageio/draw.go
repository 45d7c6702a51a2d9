package imageio

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// palette holds well separated colours for classes (Tableau 10).
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// ClassColor returns a colour for class i; classes ten apart share a colour.
func ClassColor(i int) color.RGBA {
	i %= len(palette)
	if i < 0 {
		i += len(palette)
	}
	return palette[i]
}

// fillRect paints r (clipped to dst) with c.
func fillRect(dst draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(dst, r.Intersect(dst.Bounds()), image.NewUniform(c), image.Point{}, draw.Over)
}

// DrawBox outlines box x1, y1, x2, y2 (pixel coordinates, corner pixels included) with lines
// thickness pixels wide drawn inside the box.
func DrawBox(dst draw.Image, box [4]float32, c color.Color, thickness int) {
	x1, y1 := int(math.Round(float64(box[0]))), int(math.Round(float64(box[1])))
	x2, y2 := int(math.Round(float64(box[2])))+1, int(math.Round(float64(box[3])))+1
	t := max(thickness, 1)
	fillRect(dst, image.Rect(x1, y1, x2, min(y1+t, y2)), c)
	fillRect(dst, image.Rect(x1, max(y2-t, y1), x2, y2), c)
	fillRect(dst, image.Rect(x1, y1, min(x1+t, x2), y2), c)
	fillRect(dst, image.Rect(max(x2-t, x1), y1, x2, y2), c)
}

// DrawDot draws a disc of the given radius centred on pixel (x, y): filled (a visible landmark)
// or as a one-pixel ring (a landmark that is not visible).
func DrawDot(dst draw.Image, x, y float32, radius int, c color.Color, filled bool) {
	cx, cy := int(math.Round(float64(x))), int(math.Round(float64(y)))
	r2 := float64(radius)*float64(radius) + 0.5 // +0.5 keeps the disc round at small radii
	inner := float64(radius-1)*float64(radius-1) + 0.5
	b := dst.Bounds()
	for dy := -radius; dy <= radius; dy++ {
		for dx := -radius; dx <= radius; dx++ {
			d := float64(dx*dx + dy*dy)
			if d > r2 || (!filled && d <= inner) {
				continue
			}
			if p := (image.Point{X: cx + dx, Y: cy + dy}); p.In(b) {
				dst.Set(p.X, p.Y, c)
			}
		}
	}
}

// labelPad is the space between a label's text and its background's edge.
const labelPad = 2

// LabelSize is the size DrawLabel covers for text.
func LabelSize(text string) image.Point {
	face := basicfont.Face7x13
	w := font.MeasureString(face, text).Ceil()
	return image.Pt(w+2*labelPad, face.Metrics().Height.Ceil()+2*labelPad)
}

// DrawLabel writes text in fg on a bg rectangle whose top-left corner is (x, y), with the 7x13
// fixed font, and returns the rectangle it painted.
func DrawLabel(dst draw.Image, x, y int, text string, fg, bg color.Color) image.Rectangle {
	face := basicfont.Face7x13
	r := image.Rectangle{Min: image.Pt(x, y), Max: image.Pt(x, y).Add(LabelSize(text))}
	fillRect(dst, r, bg)
	d := font.Drawer{
		Dst:  dst,
		Src:  image.NewUniform(fg),
		Face: face,
		Dot:  fixed.P(x+labelPad, y+labelPad+face.Metrics().Ascent.Ceil()),
	}
	d.DrawString(text)
	return r
}

// EncodePNG writes img as a PNG.
func EncodePNG(w io.Writer, img image.Image) error { return png.Encode(w, img) }

// EncodeJPEG writes img as a JPEG of the given quality (1-100; 0 means 90).
func EncodeJPEG(w io.Writer, img image.Image, quality int) error {
	if quality <= 0 {
		quality = 90
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: min(quality, 100)})
}
