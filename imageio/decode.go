// Package imageio decodes untrusted images with limits, resizes, crops and letterboxes them,
// converts them to normalised float32 tensors and back, augments them for training (with the
// landmark and box transforms that go with each augmentation), draws overlays and plots training
// curves.
//
// Coordinates follow one convention everywhere: a point (x, y) is in pixel units with the centre of
// pixel (i, j) at (i, j), so an image of width w spans [-0.5, w-0.5] horizontally. This is how
// DeepFashion stores landmarks (integer pixel indices), and it is the convention of
// golang.org/x/image/draw's scalers, so resampled pixels and transformed points agree.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/webp"
)

// Format is an image encoding that Decode accepts.
type Format string

// The supported formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
)

// Default limits, as the HTTP API documents them.
const (
	DefaultMaxBytes  = 20 << 20
	DefaultMaxPixels = 40_000_000
)

// The errors Decode returns wrap one of these, so that a caller can map them to an HTTP status
// with errors.Is (all are the client's fault: 413 for ErrTooLarge and ErrTooManyPixels, 415 for
// ErrFormat, 400 for the others).
var (
	ErrEmpty         = errors.New("empty image")
	ErrTooLarge      = errors.New("image file too large")
	ErrTooManyPixels = errors.New("image has too many pixels")
	ErrFormat        = errors.New("unsupported image format")
	ErrTruncated     = errors.New("truncated image")
	ErrCorrupt       = errors.New("corrupt image")
)

// Limits bound what Decode accepts. A zero field means its default; a nil Formats means all
// supported formats.
type Limits struct {
	MaxBytes  int64
	MaxPixels int64
	Formats   []Format
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.Formats == nil {
		l.Formats = []Format{JPEG, PNG, WebP}
	}
	return l
}

func (l Limits) allows(f Format) bool {
	for _, a := range l.Formats {
		if a == f {
			return true
		}
	}
	return false
}

type codec struct {
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}

var codecs = map[Format]codec{
	JPEG: {jpeg.Decode, jpeg.DecodeConfig},
	PNG:  {png.Decode, png.DecodeConfig},
	WebP: {webp.Decode, webp.DecodeConfig},
}

// sniff names the encoding from the first bytes; it also names common formats that are not
// supported so that the error can say what was sent.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return string(JPEG)
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return string(PNG)
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return string(WebP)
	case bytes.HasPrefix(b, []byte("GIF8")):
		return "gif"
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	}
	return ""
}

// Decode reads one image of at most lim.MaxBytes bytes, checks its dimensions from the header
// against lim.MaxPixels before decoding any pixel data, and decodes it. Errors wrap ErrEmpty,
// ErrTooLarge, ErrTooManyPixels, ErrFormat, ErrTruncated or ErrCorrupt.
func Decode(r io.Reader, lim Limits) (image.Image, Format, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading image: %w", err)
	}
	return decodeBytes(data, lim)
}

func decodeBytes(data []byte, lim Limits) (image.Image, Format, error) {
	if len(data) == 0 {
		return nil, "", ErrEmpty
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	name := sniff(data)
	f := Format(name)
	c, known := codecs[f]
	switch {
	case name == "":
		return nil, "", fmt.Errorf("%w: not a JPEG, PNG or WebP image", ErrFormat)
	case !known || !lim.allows(f):
		return nil, "", fmt.Errorf("%w: %s", ErrFormat, name)
	}
	cfg, err := c.decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, f, classify(f, "header", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, f, fmt.Errorf("%w: %s header gives %dx%d pixels", ErrCorrupt, f, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.MaxPixels {
		return nil, f, fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooManyPixels, cfg.Width, cfg.Height, px, lim.MaxPixels)
	}
	img, err := c.decode(bytes.NewReader(data))
	if err != nil {
		// Go's JPEG decoder reports a file cut inside its entropy-coded data as a format
		// error ("short Huffman data"); a failed JPEG without its end marker was cut short.
		if f == JPEG && !bytes.HasSuffix(data, []byte{0xff, 0xd9}) {
			err = fmt.Errorf("%w (%v)", io.ErrUnexpectedEOF, err)
		}
		return nil, f, classify(f, "data", err)
	}
	return img, f, nil
}

// classify wraps a decoder's error in ErrTruncated or ErrCorrupt.
func classify(f Format, part string, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s %s ends early", ErrTruncated, f, part)
	}
	return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, f, part, err)
}

// DecodeFile is Decode for a file; its errors start with the file's path.
func DecodeFile(path string, lim Limits) (image.Image, Format, error) {
	lim = lim.withDefaults()
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", err // *PathError already names the file
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() > lim.MaxBytes {
		return nil, "", fmt.Errorf("%s: %w: %d bytes, limit %d", path, ErrTooLarge, st.Size(), lim.MaxBytes)
	}
	img, f, err := Decode(fh, lim)
	if err != nil {
		return nil, f, fmt.Errorf("%s: %w", path, err)
	}
	return img, f, nil
}
