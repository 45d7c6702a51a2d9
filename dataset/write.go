package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/atelier-ml/atelier/fashion"
)

// Write writes d's annotations under dir in the given DeepFashion format, laid out as the real
// benchmark is (count line, header line, space-padded columns, zero-padded coordinates), so that
// Walk reads back the same samples. Coordinates are rounded to whole pixels. Images are the
// caller's job. Fashion-MNIST cannot be written.
func Write(format, dir string, d *Dataset) error {
	var err error
	switch format {
	case FormatAttr:
		err = writeAttr(dir, d)
	case FormatInShop:
		err = writeInShop(dir, d)
	case FormatC2S:
		err = writeC2S(dir, d)
	case FormatFLD:
		err = writeFLD(dir, d)
	case FormatDeepFashion2:
		err = writeDeepFashion2(dir, d)
	default:
		return fmt.Errorf("writing format %q is not supported (writable: %s)", format,
			strings.Join([]string{FormatAttr, FormatInShop, FormatC2S, FormatFLD, FormatDeepFashion2}, ", "))
	}
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", format, dir, err)
	}
	return nil
}

// listWriter writes one list file; row appends to buf and line flushes it.
type listWriter struct {
	f     *os.File
	bw    *bufio.Writer
	buf   []byte
	width int // of the padded first column
}

// createList creates dir/rel with its count line and (when not empty) its header line.
func createList(dir, rel string, count int, header string, width int) (*listWriter, error) {
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	lw := &listWriter{f: f, bw: bufio.NewWriterSize(f, 1<<20), width: width}
	fmt.Fprintf(lw.bw, "%d\n", count)
	if header != "" {
		fmt.Fprintf(lw.bw, "%s\n", header)
	}
	return lw, nil
}

// name starts a row with a right-padded first column.
func (lw *listWriter) name(s string) {
	lw.buf = append(lw.buf[:0], s...)
	for n := len(s); n < lw.width; n++ {
		lw.buf = append(lw.buf, ' ')
	}
}

// int appends a column, zero-padded to pad digits.
func (lw *listWriter) int(v, pad int) {
	lw.buf = append(lw.buf, ' ')
	if v >= 0 {
		n := 1
		for x := v; x >= 10; x /= 10 {
			n++
		}
		for ; n < pad; n++ {
			lw.buf = append(lw.buf, '0')
		}
	}
	lw.buf = strconv.AppendInt(lw.buf, int64(v), 10)
}

func (lw *listWriter) str(s string) { lw.buf = append(append(lw.buf, ' '), s...) }

func (lw *listWriter) line() {
	lw.buf = append(lw.buf, '\n')
	lw.bw.Write(lw.buf)
}

func (lw *listWriter) close() error {
	err := lw.bw.Flush()
	if cerr := lw.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeList creates a list file and calls row for each of n rows.
func writeList(dir, rel, header string, n, width int, row func(lw *listWriter, i int) error) error {
	lw, err := createList(dir, rel, n, header, width)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := row(lw, i); err != nil {
			lw.close()
			return err
		}
	}
	return lw.close()
}

// imageWidth is the padded width of the image column: the longest name and some spaces.
func imageWidth(d *Dataset) int {
	w := 0
	for i := range d.Samples {
		w = max(w, len(d.Samples[i].Image))
	}
	return w + 8
}

func round(x float32) int { return int(math.Round(float64(x))) }

func (lw *listWriter) box(g *Garment) { lw.coords(g.Box[:]...) }

func (lw *listWriter) coords(v ...float32) {
	for _, x := range v {
		lw.int(round(x), 3)
	}
}

// triples appends the (visibility, x, y) triples of g's type's slots, then zero triples up to pad.
func (lw *listWriter) triples(g *Garment, pad int) {
	slots := fashion.LandmarkSlots(g.Type)
	for _, s := range slots {
		p := g.Landmarks[s]
		lw.int(int(p.Vis), 1)
		lw.coords(p.X, p.Y)
	}
	for range pad - len(slots) {
		lw.int(0, 1)
		lw.coords(0, 0)
	}
}

// landmarkHeader is the header of a landmark list, with or without variation_type.
func landmarkHeader(variation bool) string {
	cols := []string{"image_name", "clothes_type"}
	if variation {
		cols = append(cols, "variation_type")
	}
	for i := 1; i <= fashion.NumLandmarks; i++ {
		cols = append(cols, fmt.Sprintf("landmark_visibility_%d", i), fmt.Sprintf("landmark_location_x_%d", i), fmt.Sprintf("landmark_location_y_%d", i))
	}
	return strings.Join(cols, "  ")
}

// single returns the one garment of a sample in a one-garment-per-image format, checking that it
// has what every such list needs: a box and a known garment type.
func single(s *Sample) (*Garment, error) {
	if len(s.Garments) != 1 {
		return nil, fmt.Errorf("image %s has %d garments, the format holds exactly 1", s.Image, len(s.Garments))
	}
	if s.Image == "" || strings.ContainsAny(s.Image, " \t\r\n") {
		return nil, fmt.Errorf("image name %q is empty or holds white space, which list files cannot hold", s.Image)
	}
	g := &s.Garments[0]
	if !g.HasBox {
		return nil, fmt.Errorf("image %s has no box", s.Image)
	}
	if fashion.LandmarkSlots(g.Type) == nil {
		return nil, fmt.Errorf("image %s has garment type %v", s.Image, g.Type)
	}
	return g, nil
}

// checkSingles runs single on every sample first, so that no file is half written.
func checkSingles(d *Dataset) error {
	for i := range d.Samples {
		if _, err := single(&d.Samples[i]); err != nil {
			return err
		}
	}
	return nil
}

// writeVocab writes a name/type vocabulary list.
func writeVocab(dir, rel, header string, names []string, types []int) error {
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	return writeList(dir, rel, header, len(names), width+8, func(lw *listWriter, i int) error {
		lw.name(names[i])
		lw.int(types[i], 1)
		lw.line()
		return nil
	})
}

func writeAttr(dir string, d *Dataset) error {
	if err := checkSingles(d); err != nil {
		return err
	}
	cats := d.Vocab.Categories
	if len(cats) == 0 {
		cats = fashion.Categories
	}
	var names []string
	var types []int
	for _, c := range cats {
		names, types = append(names, c.Name), append(types, int(c.Type))
	}
	if err := writeVocab(dir, attrCategoryCloth, "category_name  category_type", names, types); err != nil {
		return err
	}
	names, types = nil, nil
	for _, a := range d.Vocab.Attributes {
		names, types = append(names, a.Name), append(types, int(a.Type))
	}
	if err := writeVocab(dir, attrAttrCloth, "attribute_name  attribute_type", names, types); err != nil {
		return err
	}
	n, width := len(d.Samples), imageWidth(d)
	if err := writeGarments(dir, attrCategoryImg, "image_name  category_label", d, width, func(lw *listWriter, _ *Sample, g *Garment) {
		lw.int(g.Category, 1)
	}); err != nil {
		return err
	}
	nAttr := len(d.Vocab.Attributes)
	if err := writeList(dir, attrAttrImg, "image_name  attribute_labels", n, width, func(lw *listWriter, i int) error {
		labels := d.Samples[i].Garments[0].Attributes
		if labels != nil && len(labels) != nAttr {
			return fmt.Errorf("image %s has %d attribute labels, the vocabulary %d", d.Samples[i].Image, len(labels), nAttr)
		}
		lw.name(d.Samples[i].Image)
		for a := range nAttr {
			v := int8(0)
			if labels != nil {
				v = labels[a]
			}
			// Columns two wide, as in the real file: " 1", "-1", " 0".
			if v < 0 {
				lw.buf = append(lw.buf, " -1"...)
			} else {
				lw.buf = append(lw.buf, ' ', ' ', '0'+byte(v))
			}
		}
		lw.line()
		return nil
	}); err != nil {
		return err
	}
	if err := writeBoxes(dir, attrBBox, d, width); err != nil {
		return err
	}
	if err := writeLandmarks(dir, attrLandmarks, d, width, false, 0); err != nil {
		return err
	}
	return writePartition(dir, d, width)
}

// writeGarments writes a list of one row per sample of a one-garment-per-image format: the image
// name, then the columns that cols appends for the sample and its garment.
func writeGarments(dir, rel, header string, d *Dataset, width int, cols func(lw *listWriter, s *Sample, g *Garment)) error {
	return writeList(dir, rel, header, len(d.Samples), width, func(lw *listWriter, i int) error {
		s := &d.Samples[i]
		lw.name(s.Image)
		cols(lw, s, &s.Garments[0])
		lw.line()
		return nil
	})
}

// writePartition writes an "image_name evaluation_status" list.
func writePartition(dir string, d *Dataset, width int) error {
	return writeGarments(dir, evalPartition, "image_name  evaluation_status", d, width, func(lw *listWriter, s *Sample, _ *Garment) {
		lw.str(string(s.Split))
	})
}

// writeBoxes writes an "image_name x_1 y_1 x_2 y_2" list.
func writeBoxes(dir, rel string, d *Dataset, width int) error {
	return writeGarments(dir, rel, "image_name  x_1  y_1  x_2  y_2", d, width, func(lw *listWriter, _ *Sample, g *Garment) {
		lw.box(g)
	})
}

// writeLandmarks writes a landmark list, with or without variation_type, padding every row with
// zero triples up to pad.
func writeLandmarks(dir, rel string, d *Dataset, width int, variation bool, pad int) error {
	return writeGarments(dir, rel, landmarkHeader(variation), d, width, func(lw *listWriter, _ *Sample, g *Garment) {
		lw.int(int(g.Type), 1)
		if variation {
			lw.int(g.Variation, 1)
		}
		lw.triples(g, pad)
	})
}

func writeInShop(dir string, d *Dataset) error {
	if err := checkSingles(d); err != nil {
		return err
	}
	width := imageWidth(d)
	var items []string
	seen := map[string]bool{}
	for i := range d.Samples {
		if id := d.Samples[i].Garments[0].ItemID; !seen[id] {
			seen[id] = true
			items = append(items, id)
		}
	}
	if err := writeGarments(dir, evalPartition, "image_name  item_id  evaluation_status", d, width, func(lw *listWriter, s *Sample, g *Garment) {
		lw.str(g.ItemID)
		lw.str(string(s.Split))
	}); err != nil {
		return err
	}
	if err := writeGarments(dir, inShopBBox, "image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2", d, width, func(lw *listWriter, _ *Sample, g *Garment) {
		lw.int(int(g.Type), 1)
		lw.int(g.Pose, 1)
		lw.box(g)
	}); err != nil {
		return err
	}
	if err := writeLandmarks(dir, inShopLandmarks, d, width, true, 0); err != nil {
		return err
	}
	return writeList(dir, inShopItems, "", len(items), 0, func(lw *listWriter, i int) error {
		lw.name(items[i])
		lw.line()
		return nil
	})
}

// writeC2S writes every (consumer, shop) pair of the same item and split, consumer images in
// sample order; every image must take part in at least one pair.
func writeC2S(dir string, d *Dataset) error {
	if err := checkSingles(d); err != nil {
		return err
	}
	type key struct {
		item  string
		split Split
	}
	shops := map[key][]int{}
	for i := range d.Samples {
		s := &d.Samples[i]
		if s.Source == SourceShop {
			k := key{s.Garments[0].ItemID, s.Split}
			shops[k] = append(shops[k], i)
		}
	}
	var pairs [][2]int
	paired := make([]bool, len(d.Samples))
	for i := range d.Samples {
		s := &d.Samples[i]
		switch s.Source {
		case SourceConsumer:
			k := key{s.Garments[0].ItemID, s.Split}
			if len(shops[k]) == 0 {
				return fmt.Errorf("consumer image %s has no shop image of item %s in split %s", s.Image, k.item, k.split)
			}
			for _, j := range shops[k] {
				pairs = append(pairs, [2]int{i, j})
				paired[i], paired[j] = true, true
			}
		case SourceShop:
		default:
			return fmt.Errorf("image %s is neither a shop nor a consumer image", s.Image)
		}
	}
	for i, ok := range paired {
		if !ok {
			return fmt.Errorf("shop image %s has no consumer image of item %s in split %s", d.Samples[i].Image, d.Samples[i].Garments[0].ItemID, d.Samples[i].Split)
		}
	}
	width := imageWidth(d)
	if err := writeList(dir, evalPartition, "image_pair_name_1  image_pair_name_2  item_id  evaluation_status", len(pairs), width, func(lw *listWriter, p int) error {
		c, s := &d.Samples[pairs[p][0]], &d.Samples[pairs[p][1]]
		lw.name(c.Image)
		lw.str(s.Image)
		for range width - len(s.Image) {
			lw.buf = append(lw.buf, ' ')
		}
		lw.str(c.Garments[0].ItemID)
		lw.str(string(c.Split))
		lw.line()
		return nil
	}); err != nil {
		return err
	}
	return writeGarments(dir, c2sBBox, "image_name  clothes_type  source_type  x_1  y_1  x_2  y_2", d, width, func(lw *listWriter, s *Sample, g *Garment) {
		lw.int(int(g.Type), 1)
		lw.int(int(s.Source), 1)
		lw.box(g)
	})
}

func writeFLD(dir string, d *Dataset) error {
	if err := checkSingles(d); err != nil {
		return err
	}
	width := imageWidth(d)
	if err := writeBoxes(dir, fldBBox, d, width); err != nil {
		return err
	}
	// FLD rows always carry eight triples; the slots a type does not use are zero.
	if err := writeLandmarks(dir, fldLandmarks, d, width, true, fashion.NumLandmarks); err != nil {
		return err
	}
	return writePartition(dir, d, width)
}

// writeDeepFashion2 writes one annotation file per sample. A sample's Image must be
// SPLIT/image/NAME.jpg with SPLIT "train" for Train and "validation" for Val; its annotation goes
// to SPLIT/annos/NAME.json.
func writeDeepFashion2(dir string, d *Dataset) error {
	for i := range d.Samples {
		s := &d.Samples[i]
		var split string
		for _, sp := range df2Splits {
			if sp.split == s.Split {
				split = sp.dir
			}
		}
		stem := strings.TrimSuffix(path.Base(s.Image), ".jpg")
		if split == "" || s.Image != split+"/image/"+stem+".jpg" {
			return fmt.Errorf("image %s in split %q is not named train/image/NAME.jpg or validation/image/NAME.jpg", s.Image, s.Split)
		}
		data, err := encodeDF2(s)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, split, "annos", stem+".json")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// encodeDF2 encodes a sample as DeepFashion2 does: source and pair_id, then item1, item2, ...
func encodeDF2(s *Sample) ([]byte, error) {
	src := map[Source]string{SourceShop: "shop", SourceConsumer: "user"}[s.Source]
	if src == "" {
		return nil, fmt.Errorf("image %s is neither a shop nor a user image", s.Image)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"source\": %q, \"pair_id\": %d", src, s.PairID)
	for n, g := range s.Garments {
		c, ok := fashion.DF2ClassByID(g.Category)
		if !ok || len(g.DF2Landmarks) != c.Landmarks || !g.HasBox {
			return nil, fmt.Errorf("image %s garment %d: want a DeepFashion2 class, a box and its %d landmarks", s.Image, n+1, c.Landmarks)
		}
		it := df2Item{Segmentation: [][]float64{}, Scale: g.Scale, Viewpoint: g.Viewpoint, ZoomIn: g.ZoomIn,
			Style: g.Style, CategoryID: c.ID, Occlusion: g.Occlusion, CategoryName: c.Name}
		for _, x := range g.Box {
			it.BoundingBox = append(it.BoundingBox, float64(round(x)))
		}
		for _, p := range g.DF2Landmarks {
			v := 0 // DeepFashion2: 0 not labeled, 1 occluded, 2 visible
			switch {
			case p.Labeled && p.Vis == Visible:
				v = 2
			case p.Labeled:
				v = 1
			}
			it.Landmarks = append(it.Landmarks, float64(round(p.X)), float64(round(p.Y)), float64(v))
		}
		data, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, ", \"item%d\": %s", n+1, data)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
