package imageio

import (
	"image"
	"image/color"
	"math"

	"golang.org/x/image/draw"
)

// Affine maps a point (x, y) to (SX*x+TX, SY*y+TY). Every geometric operation of this package
// returns the Affine that takes points (landmarks, box corners) from the source image to the
// result, in the pixel-centre convention of the package comment.
type Affine struct{ SX, SY, TX, TY float64 }

// Identity is the Affine that changes nothing.
var Identity = Affine{SX: 1, SY: 1}

// Apply maps one point.
func (a Affine) Apply(x, y float32) (float32, float32) {
	return float32(a.SX*float64(x) + a.TX), float32(a.SY*float64(y) + a.TY)
}

// Then returns the Affine that applies a and then b.
func (a Affine) Then(b Affine) Affine {
	return Affine{SX: b.SX * a.SX, SY: b.SY * a.SY, TX: b.SX*a.TX + b.TX, TY: b.SY*a.TY + b.TY}
}

// Inverse returns the Affine that undoes a (a's scales must not be zero), e.g. to map landmarks
// predicted on a crop back to the photo.
func (a Affine) Inverse() Affine {
	return Affine{SX: 1 / a.SX, SY: 1 / a.SY, TX: -a.TX / a.SX, TY: -a.TY / a.SY}
}

// Box maps a box x1, y1, x2, y2 by its corners and reorders them, so a flipped box stays
// x1 <= x2, y1 <= y2.
func (a Affine) Box(b [4]float32) [4]float32 {
	x1, y1 := a.Apply(b[0], b[1])
	x2, y2 := a.Apply(b[2], b[3])
	return [4]float32{min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)}
}

// scaleAffine is the map of resizing an sw x sh image to dw x dh: pixel edges, not centres,
// scale, so x' + 0.5 = (x + 0.5) * dw / sw.
func scaleAffine(sw, sh, dw, dh int) Affine {
	sx, sy := float64(dw)/float64(sw), float64(dh)/float64(sh)
	return Affine{SX: sx, SY: sy, TX: 0.5*sx - 0.5, TY: 0.5*sy - 0.5}
}

// RGBA returns img as an *image.RGBA whose bounds start at (0, 0), converting (and copying) only
// when it is not one already.
func RGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return m
}

// Resize scales src to w x h with the interpolator q (draw.BiLinear when nil; draw.CatmullRom
// is sharper and slower). The kernels widen when shrinking, so downscaling does not alias.
func Resize(src image.Image, w, h int, q draw.Interpolator) (*image.RGBA, Affine) {
	if q == nil {
		q = draw.BiLinear
	}
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	q.Scale(dst, dst.Rect, src, b, draw.Src, nil)
	return dst, scaleAffine(b.Dx(), b.Dy(), w, h)
}

// Crop copies the rectangle r (in src's pixel coordinates relative to its top-left corner) into a
// new image; the parts of r outside src are filled with fill.
func Crop(src image.Image, r image.Rectangle, fill color.Color) (*image.RGBA, Affine) {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(dst, dst.Rect, image.NewUniform(fill), image.Point{}, draw.Src)
	abs := r.Add(b.Min)
	if in := abs.Intersect(b); !in.Empty() {
		draw.Draw(dst, in.Sub(abs.Min), src, in.Min, draw.Src)
	}
	return dst, Affine{SX: 1, SY: 1, TX: -float64(r.Min.X), TY: -float64(r.Min.Y)}
}

// ExpandBox returns the pixel rectangle that holds box x1, y1, x2, y2 (corner pixels included)
// widened by margin times the box's width on the left and on the right, and by margin times its
// height above and below; then, when aspect > 0, the short side is grown about the centre until
// width/height equals aspect, so that resizing the crop does not distort the garment.
func ExpandBox(box [4]float32, margin, aspect float64) image.Rectangle {
	cx, cy := float64(box[0]+box[2])/2, float64(box[1]+box[3])/2
	// +1: a box from pixel x1 to pixel x2 covers x2-x1+1 pixels.
	w := float64(box[2]-box[0]+1) * (1 + 2*margin)
	h := float64(box[3]-box[1]+1) * (1 + 2*margin)
	if aspect > 0 {
		if w/h < aspect {
			w = h * aspect
		} else {
			h = w / aspect
		}
	}
	// Pixel i covers [i-0.5, i+0.5): the rectangle's edges are centre ± size/2 + 0.5.
	x0 := int(math.Round(cx - w/2 + 0.5))
	y0 := int(math.Round(cy - h/2 + 0.5))
	return image.Rect(x0, y0, x0+max(1, int(math.Round(w))), y0+max(1, int(math.Round(h))))
}

// CropAround crops box widened by margin (see ExpandBox; the crop takes the aspect of w x h),
// fills what lies outside the image with fill, and resizes the crop to w x h bilinearly.
func CropAround(src image.Image, box [4]float32, margin float64, w, h int, fill color.Color) (*image.RGBA, Affine) {
	r := ExpandBox(box, margin, float64(w)/float64(h))
	c, a := Crop(src, r, fill)
	out, s := Resize(c, w, h, draw.BiLinear)
	return out, a.Then(s)
}

// Letterbox scales src so that its long side is size, and centres it on a size x size square
// filled with fill.
func Letterbox(src image.Image, size int, fill color.Color, q draw.Interpolator) (*image.RGBA, Affine) {
	if q == nil {
		q = draw.BiLinear
	}
	b := src.Bounds()
	s := float64(size) / float64(max(b.Dx(), b.Dy()))
	nw := max(1, int(math.Round(float64(b.Dx())*s)))
	nh := max(1, int(math.Round(float64(b.Dy())*s)))
	ox, oy := (size-nw)/2, (size-nh)/2
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(dst, dst.Rect, image.NewUniform(fill), image.Point{}, draw.Src)
	q.Scale(dst, image.Rect(ox, oy, ox+nw, oy+nh), src, b, draw.Src, nil)
	a := scaleAffine(b.Dx(), b.Dy(), nw, nh)
	return dst, a.Then(Affine{SX: 1, SY: 1, TX: float64(ox), TY: float64(oy)})
}
