package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/atelier-ml/atelier/fashion"
)

// FashionMNISTClasses are Fashion-MNIST's ten classes in label order; label L is category L+1.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
	"Shirt", "Sneaker", "Bag", "Ankle boot"}

// fashionMNISTTypes gives each class the DeepFashion garment type it matches (Coat is full-body as
// in DeepFashion's category list); footwear and bags have none.
var fashionMNISTTypes = []fashion.GarmentType{fashion.Upper, fashion.Lower, fashion.Upper, fashion.Full,
	fashion.Full, fashion.TypeUnknown, fashion.Upper, fashion.TypeUnknown, fashion.TypeUnknown, fashion.TypeUnknown}

// FashionMNISTVocabulary is Fashion-MNIST's label space: category id = label + 1 (1 T-shirt/top ..
// 10 Ankle boot), no attributes.
func FashionMNISTVocabulary() fashion.Vocabulary {
	var v fashion.Vocabulary
	for i, n := range FashionMNISTClasses {
		v.Categories = append(v.Categories, fashion.Category{ID: i + 1, Name: n, Type: fashionMNISTTypes[i]})
	}
	return v
}

// IDX magic numbers: unsigned bytes, 1 or 3 dimensions.
const (
	idxLabels = 0x00000801
	idxImages = 0x00000803
)

// parseIDXHeader reads an IDX header whose magic must be want and returns its dimensions.
func parseIDXHeader(r io.Reader, want uint32) ([]int, error) {
	var magic uint32
	if err := binary.Read(r, binary.BigEndian, &magic); err != nil {
		return nil, fmt.Errorf("reading the IDX magic: %w", err)
	}
	if magic != want {
		return nil, fmt.Errorf("IDX magic %#08x, want %#08x", magic, want)
	}
	dims := make([]int, magic&0xff)
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("reading IDX dimension %d: %w", i+1, err)
		}
		if d == 0 || d > 1<<24 {
			return nil, fmt.Errorf("IDX dimension %d is %d", i+1, d)
		}
		dims[i] = int(d)
	}
	return dims, nil
}

// openIDX opens a gzip IDX file and reads its header. Problems with the file's content are
// recorded in errs and reported as a nil reader.
func (w *walker) openIDX(name string, magic uint32) (io.Reader, []int, func(), error) {
	path := filepath.Join(w.dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		w.errs.add(path, 0, "file is missing")
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		w.errs.add(path, 0, "not a gzip file: %v", err)
		return nil, nil, nil, nil
	}
	r := bufio.NewReaderSize(zr, 1<<16)
	dims, err := parseIDXHeader(r, magic)
	if err != nil {
		f.Close()
		w.errs.add(path, 0, "%v", err)
		return nil, nil, nil, nil
	}
	return r, dims, func() { f.Close() }, nil
}

// fashionMNIST reads train-* (split train) then t10k-* (split test). Samples are named
// "train/00000" .. and "test/00000" .. by split and index; the pixels are in Sample.Pixels.
func (w *walker) fashionMNIST() error {
	w.vocab = FashionMNISTVocabulary()
	parts := []*mnistPart{{prefix: "train", split: Train}, {prefix: "t10k", split: Test}}
	total := 0
	for _, p := range parts {
		lname, iname := p.prefix+"-labels-idx1-ubyte.gz", p.prefix+"-images-idx3-ubyte.gz"
		lr, ldims, lclose, err := w.openIDX(lname, idxLabels)
		if err != nil {
			return err
		}
		if lr != nil {
			p.labels = make([]byte, ldims[0])
			_, err = io.ReadFull(lr, p.labels)
			lclose()
			if err != nil {
				w.errs.add(filepath.Join(w.dir, lname), 0, "file ends before its %d labels: %v", ldims[0], err)
				p.labels = nil
			}
			for i, l := range p.labels {
				if int(l) >= len(FashionMNISTClasses) {
					w.errs.add(filepath.Join(w.dir, lname), 0, "label %d of image %d is not a class (want 0..9)", l, i)
				}
			}
		}
		ir, idims, iclose, err := w.openIDX(iname, idxImages)
		if err != nil {
			return err
		}
		if ir == nil || p.labels == nil {
			if iclose != nil {
				iclose()
			}
			continue
		}
		if idims[0] != len(p.labels) {
			w.errs.add(filepath.Join(w.dir, iname), 0, "%d images but %s has %d labels", idims[0], lname, len(p.labels))
			iclose()
			continue
		}
		p.images, p.h, p.w, p.close = ir, idims[1], idims[2], iclose
		total += idims[0]
	}
	for _, p := range parts {
		if p.images == nil {
			continue
		}
		err := w.readMNISTPart(p, total)
		p.close()
		if err != nil {
			return err
		}
	}
	return nil
}

// mnistPart is one split of Fashion-MNIST: its labels, read whole, and its image stream.
type mnistPart struct {
	prefix string // of the file names: "train" or "t10k"
	split  Split
	labels []byte
	images io.Reader
	h, w   int
	close  func()
}

// readMNISTPart delivers the images of one split.
func (w *walker) readMNISTPart(p *mnistPart, total int) error {
	for i, l := range p.labels {
		px := make([]uint8, p.h*p.w)
		if _, err := io.ReadFull(p.images, px); err != nil {
			w.errs.add(filepath.Join(w.dir, p.prefix+"-images-idx3-ubyte.gz"), 0, "file ends after %d of %d images: %v", i, len(p.labels), err)
			return nil
		}
		s := Sample{Image: fmt.Sprintf("%s/%05d", p.split, i), Width: p.w, Height: p.h, Split: p.split, Pixels: px}
		if int(l) < len(FashionMNISTClasses) {
			s.Garments = []Garment{{Category: int(l) + 1, Type: fashionMNISTTypes[l]}}
		}
		if err := w.deliver(&s, total); err != nil {
			return err
		}
	}
	return nil
}
