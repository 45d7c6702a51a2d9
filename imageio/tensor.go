package imageio

import (
	"fmt"
	"image"

	"golang.org/x/image/draw"
)

// Norm is a per-channel normalisation: a pixel value v in [0, 255] becomes (v/255 - Mean)/Std.
// Mean and Std have one entry per channel: 3 (RGB) or 1 (grey, from Go's luma conversion).
type Norm struct {
	Mean, Std []float32
}

// ImageNetNorm is the RGB normalisation of ImageNet-pretrained backbones.
var ImageNetNorm = Norm{Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}

// Channels is 1 or 3.
func (n Norm) Channels() int { return len(n.Mean) }

func (n Norm) check() error {
	if c := len(n.Mean); (c != 1 && c != 3) || len(n.Std) != c {
		return fmt.Errorf("normalisation needs 1 or 3 means and as many stds, got %d and %d", len(n.Mean), len(n.Std))
	}
	for _, s := range n.Std {
		if s == 0 {
			return fmt.Errorf("normalisation std is zero")
		}
	}
	return nil
}

// Tensor converts a batch of images of one size to NHWC float32 data (row-major: image, row,
// column, channel), normalised by n. dst is reused when it has the capacity.
func Tensor(dst []float32, imgs []image.Image, n Norm) ([]float32, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return dst[:0], nil
	}
	size := imgs[0].Bounds().Size()
	c := n.Channels()
	per := size.X * size.Y * c
	if cap(dst) < per*len(imgs) {
		dst = make([]float32, per*len(imgs))
	}
	dst = dst[:per*len(imgs)]
	scale, shift := make([]float32, c), make([]float32, c)
	for k := range c {
		scale[k] = 1 / (255 * n.Std[k])
		shift[k] = -n.Mean[k] / n.Std[k]
	}
	for i, img := range imgs {
		if s := img.Bounds().Size(); s != size {
			return nil, fmt.Errorf("image %d is %dx%d, the batch is %dx%d", i, s.X, s.Y, size.X, size.Y)
		}
		out := dst[i*per : (i+1)*per]
		if c == 1 {
			g := gray(img)
			for j, v := range g.Pix {
				out[j] = float32(v)*scale[0] + shift[0]
			}
			continue
		}
		pix := RGBA(img).Pix
		for j := 0; j < size.X*size.Y; j++ {
			for k := range 3 {
				out[j*3+k] = float32(pix[j*4+k])*scale[k] + shift[k]
			}
		}
	}
	return dst, nil
}

func gray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Rect.Min == (image.Point{}) && g.Stride == g.Rect.Dx() {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(g, g.Rect, img, b.Min, draw.Src)
	return g
}

// Image converts one h x w image of NHWC data normalised by n back to pixels (values clamped to
// [0, 255]), for visualisation.
func Image(data []float32, h, w int, n Norm) (*image.RGBA, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	c := n.Channels()
	if len(data) != h*w*c {
		return nil, fmt.Errorf("tensor has %d values, want %dx%dx%d", len(data), h, w, c)
	}
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for j := range h * w {
		for k := range 3 {
			ch := min(k, c-1)
			v := (data[j*c+ch]*n.Std[ch] + n.Mean[ch]) * 255
			m.Pix[j*4+k] = clamp8(v)
		}
		m.Pix[j*4+3] = 255
	}
	return m, nil
}

// clamp8 rounds v to the nearest byte value.
func clamp8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
