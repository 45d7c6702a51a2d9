package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"reflect"
	"testing"
)

// fashionMNISTDir is where the Debian package dataset-fashion-mnist (make deps) puts the files.
const fashionMNISTDir = "/usr/share/datasets/fashion-mnist"

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(fashionMNISTDir); err != nil {
		t.Fatalf("Fashion-MNIST is not installed (make deps installs dataset-fashion-mnist): %v", err)
	}
	splits := map[Split]int{}
	trainHist := make([]int, 11)
	pixelSums := map[string]int{}
	categories := map[string]int{}
	vocab, err := Walk(FormatFashionMNIST, fashionMNISTDir, Options{}, func(s *Sample) error {
		splits[s.Split]++
		if s.Width != 28 || s.Height != 28 || len(s.Pixels) != 784 || len(s.Garments) != 1 {
			t.Fatalf("sample %s: %dx%d, %d pixels, %d garments", s.Image, s.Width, s.Height, len(s.Pixels), len(s.Garments))
		}
		if s.Split == Train {
			trainHist[s.Garments[0].Category]++
		}
		if s.Image == "train/00000" || s.Image == "test/00000" {
			for _, p := range s.Pixels {
				pixelSums[s.Image] += int(p)
			}
			categories[s.Image] = s.Garments[0].Category
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if splits[Train] != 60000 || splits[Test] != 10000 || len(splits) != 2 {
		t.Errorf("splits %v, want train 60000, test 10000", splits)
	}
	for c := 1; c <= 10; c++ {
		if trainHist[c] != 6000 {
			t.Errorf("train category %d (%s) has %d images, want 6000", c, vocab.Categories[c-1].Name, trainHist[c])
		}
	}
	// The sums of the first images' pixels as stored in the IDX files (computed once with Python's
	// gzip module); both images are ankle boots (label 9, category 10).
	wantSums := map[string]int{"train/00000": 76247, "test/00000": 33456}
	for img, want := range wantSums {
		if pixelSums[img] != want || categories[img] != 10 {
			t.Errorf("%s: pixel sum %d, category %d; want %d, 10 (Ankle boot)", img, pixelSums[img], categories[img], want)
		}
	}
	if vocab.Categories[9].Name != "Ankle boot" || len(vocab.Categories) != 10 {
		t.Errorf("vocabulary %+v", vocab.Categories)
	}
}

// idxGz encodes an IDX file of unsigned bytes, gzip-compressed.
func idxGz(t *testing.T, dims []uint32, data []byte) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	binary.Write(zw, binary.BigEndian, uint32(0x800|len(dims)))
	binary.Write(zw, binary.BigEndian, dims)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFashionMNISTErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []Error
	}{
		{"not gzip and missing", map[string]string{"train-labels-idx1-ubyte.gz": "this is not a gzip file at all"}, []Error{
			{"train-labels-idx1-ubyte.gz", 0, "not a gzip file: gzip: invalid header"},
			{"train-images-idx3-ubyte.gz", 0, "file is missing"},
			{"t10k-labels-idx1-ubyte.gz", 0, "file is missing"},
			{"t10k-images-idx3-ubyte.gz", 0, "file is missing"},
		}},
		{"bad label, counts, truncation", map[string]string{
			"train-labels-idx1-ubyte.gz": idxGz(t, []uint32{2}, []byte{3, 10}),
			"train-images-idx3-ubyte.gz": idxGz(t, []uint32{3, 2, 2}, make([]byte, 12)),
			"t10k-labels-idx1-ubyte.gz":  idxGz(t, []uint32{2}, []byte{1, 2}),
			"t10k-images-idx3-ubyte.gz":  idxGz(t, []uint32{2, 2, 2}, make([]byte, 5)),
		}, []Error{
			{"train-labels-idx1-ubyte.gz", 0, "label 10 of image 1 is not a class (want 0..9)"},
			{"train-images-idx3-ubyte.gz", 0, "3 images but train-labels-idx1-ubyte.gz has 2 labels"},
			{"t10k-images-idx3-ubyte.gz", 0, "file ends after 1 of 2 images: unexpected EOF"},
		}},
		{"magic", map[string]string{
			"train-labels-idx1-ubyte.gz": idxGz(t, []uint32{2, 1}, []byte{1, 2}),
			"train-images-idx3-ubyte.gz": idxGz(t, []uint32{2, 2, 2}, make([]byte, 8)),
			"t10k-labels-idx1-ubyte.gz":  idxGz(t, []uint32{1}, []byte{1}),
			"t10k-images-idx3-ubyte.gz":  idxGz(t, []uint32{1, 2, 2}, make([]byte, 4)),
		}, []Error{{"train-labels-idx1-ubyte.gz", 0, "IDX magic 0x00000802, want 0x00000801"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			_, _, errs := walkAll(t, FormatFashionMNIST, dir, Options{})
			if !reflect.DeepEqual(errs, tc.want) {
				t.Errorf("errors\n got %v\nwant %v", errs, tc.want)
			}
		})
	}
}
