package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testImage is a w x h gradient, so that encoders cannot compress it to nothing.
func testImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x*y + 31), 255})
		}
	}
	return m
}

func encoded(t *testing.T, f Format, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch f {
	case PNG:
		err = EncodePNG(&b, img)
	case JPEG:
		err = EncodeJPEG(&b, img, 90)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNGHeader is a PNG signature and an IHDR chunk, with a correct CRC, claiming w x h pixels.
func hugePNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := make([]byte, 0, 17)
	chunk = append(chunk, "IHDR"...)
	chunk = binary.BigEndian.AppendUint32(chunk, w)
	chunk = binary.BigEndian.AppendUint32(chunk, h)
	chunk = append(chunk, 8, 2, 0, 0, 0) // 8-bit RGB, deflate, no filter method, no interlace
	_ = binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// flipped returns a copy of b with the bits of byte i inverted.
func flipped(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func TestDecodeErrors(t *testing.T) {
	pngData := encoded(t, PNG, testImage(64, 48))
	jpegData := encoded(t, JPEG, testImage(64, 48))
	for _, tc := range []struct {
		name    string
		data    []byte
		lim     Limits
		want    error
		message string
	}{
		{"empty", nil, Limits{}, ErrEmpty, "empty"},
		{"not an image", []byte("hello, this is text"), Limits{}, ErrFormat, "not a JPEG, PNG or WebP"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), Limits{}, ErrFormat, "gif"},
		{"format not allowed", jpegData, Limits{Formats: []Format{PNG}}, ErrFormat, "jpeg"},
		{"truncated jpeg", jpegData[:len(jpegData)/2], Limits{}, ErrTruncated, "jpeg data ends early"},
		{"truncated png header", pngData[:20], Limits{}, ErrTruncated, "png header ends early"},
		{"png claims 60000x60000", hugePNGHeader(60000, 60000), Limits{}, ErrTooManyPixels, "60000x60000"},
		{"over a small pixel limit", pngData, Limits{MaxPixels: 64*48 - 1}, ErrTooManyPixels, "64x48"},
		{"oversized body", pngData, Limits{MaxBytes: int64(len(pngData)) - 1}, ErrTooLarge, "bytes"},
		{"corrupt png", flipped(pngData, len(pngData)-20), Limits{}, ErrCorrupt, "png data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(bytes.NewReader(tc.data), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
		})
	}
}

func TestDecodeFormats(t *testing.T) {
	webpData, err := os.ReadFile("testdata/gopher.lossless.webp") // from golang.org/x/image's testdata
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data []byte
		want Format
		w, h int
	}{
		{encoded(t, PNG, testImage(64, 48)), PNG, 64, 48},
		{encoded(t, JPEG, testImage(64, 48)), JPEG, 64, 48},
		{webpData, WebP, 75, 100},
	} {
		img, f, err := Decode(bytes.NewReader(tc.data), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tc.want, err)
		}
		if f != tc.want || img.Bounds().Dx() != tc.w || img.Bounds().Dy() != tc.h {
			t.Errorf("decoded %s %v, want %s %dx%d", f, img.Bounds(), tc.want, tc.w, tc.h)
		}
	}
	// Lossless PNG round trip keeps every pixel.
	src := testImage(5, 4)
	img, _, err := Decode(bytes.NewReader(encoded(t, PNG, src)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(RGBA(img).Pix, src.Pix) {
		t.Error("PNG round trip changed pixels")
	}
}

func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	bad := filepath.Join(dir, "bad.jpg")
	if err := os.WriteFile(good, encoded(t, PNG, testImage(8, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, f, err := DecodeFile(good, Limits{}); err != nil || f != PNG {
		t.Fatalf("DecodeFile(good) = %s, %v", f, err)
	}
	for _, tc := range []struct {
		path string
		lim  Limits
		want error
	}{
		{bad, Limits{}, ErrFormat},
		{good, Limits{MaxBytes: 10}, ErrTooLarge},
		{filepath.Join(dir, "missing.png"), Limits{}, os.ErrNotExist},
	} {
		_, _, err := DecodeFile(tc.path, tc.lim)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("DecodeFile(%s) error %v, want %v naming the file", tc.path, err, tc.want)
		}
	}
}

func TestHugePNGHeaderIsValid(t *testing.T) {
	// The hand-built header must be one Go's PNG reader accepts, or the limit test proves nothing.
	cfg, err := png.DecodeConfig(bytes.NewReader(hugePNGHeader(60000, 60000)))
	if err != nil || cfg.Width != 60000 || cfg.Height != 60000 {
		t.Fatalf("DecodeConfig = %+v, %v", cfg, err)
	}
}
