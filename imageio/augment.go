package imageio

import (
	"image"
	"image/color"
	"math/rand/v2"
)

// CropJitter describes a training crop around a garment's box.
type CropJitter struct {
	// Margin is the context kept around the box, as a fraction of its size on each side.
	Margin float64
	// Scale: the box's width and height are multiplied by one factor drawn uniformly from
	// [1-Scale, 1+Scale].
	Scale float64
	// Shift: the box's centre moves by up to Shift times its width (horizontally) and height
	// (vertically), uniformly.
	Shift float64
}

// RandomCropAround is CropAround on a box jittered by j with rng. The returned Affine maps the
// source's points (landmarks, boxes) onto the w x h result.
func RandomCropAround(rng *rand.Rand, src image.Image, box [4]float32, j CropJitter, w, h int, fill color.Color) (*image.RGBA, Affine) {
	bw, bh := float64(box[2]-box[0]), float64(box[3]-box[1])
	s := 1 + j.Scale*(2*rng.Float64()-1)
	dx := j.Shift * (2*rng.Float64() - 1) * bw
	dy := j.Shift * (2*rng.Float64() - 1) * bh
	cx, cy := float64(box[0]+box[2])/2+dx, float64(box[1]+box[3])/2+dy
	jb := [4]float32{
		float32(cx - s*bw/2), float32(cy - s*bh/2),
		float32(cx + s*bw/2), float32(cy + s*bh/2),
	}
	return CropAround(src, jb, j.Margin, w, h, fill)
}

// FlipH mirrors src left to right. Pixel column x moves to column w-1-x, so the returned Affine is
// x' = (w-1) - x, y' = y: exact for landmarks in the package's pixel-centre convention, and
// Affine.Box keeps x1 <= x2. A mirrored garment's left landmarks become its right ones: callers
// must also swap the slots (fashion.Landmark.Mirror).
func FlipH(src image.Image) (*image.RGBA, Affine) {
	s := RGBA(src)
	w, h := s.Rect.Dx(), s.Rect.Dy()
	dst := image.NewRGBA(s.Rect)
	for y := range h {
		row, out := s.Pix[y*s.Stride:], dst.Pix[y*dst.Stride:]
		for x := range w {
			copy(out[(w-1-x)*4:(w-1-x)*4+4], row[x*4:x*4+4])
		}
	}
	return dst, Affine{SX: -1, SY: 1, TX: float64(w - 1)}
}

// ColorJitter changes brightness, contrast and saturation by factors drawn uniformly from
// [1-B, 1+B], [1-C, 1+C] and [1-S, 1+S] (as torchvision's ColorJitter does, in that fixed order).
type ColorJitter struct {
	Brightness, Contrast, Saturation float64
}

// Apply returns a jittered copy of src; geometry is unchanged.
func (j ColorJitter) Apply(rng *rand.Rand, src image.Image) *image.RGBA {
	f := func(a float64) float32 { return float32(1 + a*(2*rng.Float64()-1)) }
	b, c, s := f(j.Brightness), f(j.Contrast), f(j.Saturation)
	return AdjustColor(src, b, c, s)
}

// AdjustColor multiplies brightness by b, then blends each pixel with the image's mean luma by
// contrast factor c (v' = m + c*(v-m)), then with its own luma by saturation factor s, clamping to
// [0, 255] after each step. Factors of 1 leave the image unchanged; alpha is kept.
func AdjustColor(src image.Image, b, c, s float32) *image.RGBA {
	in := RGBA(src)
	dst := image.NewRGBA(in.Rect)
	n := len(in.Pix) / 4
	px := make([]float32, 3*n)
	var sum float32
	for i := range n {
		for k := range 3 {
			px[3*i+k] = clampF(float32(in.Pix[4*i+k]) * b)
		}
		sum += luma(px[3*i:])
	}
	mean := sum / float32(max(n, 1))
	for i := range n {
		p := px[3*i : 3*i+3]
		for k := range 3 {
			p[k] = clampF(mean + c*(p[k]-mean))
		}
		l := luma(p)
		for k := range 3 {
			dst.Pix[4*i+k] = clamp8(l + s*(p[k]-l))
		}
		dst.Pix[4*i+3] = in.Pix[4*i+3]
	}
	return dst
}

// luma is ITU-R BT.601 luma, as Go's color.GrayModel computes it.
func luma(p []float32) float32 { return 0.299*p[0] + 0.587*p[1] + 0.114*p[2] }

func clampF(v float32) float32 { return min(max(v, 0), 255) }
