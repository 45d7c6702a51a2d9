package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/atelier-ml/atelier/fashion"
)

// df2Splits are DeepFashion2's annotated split folders (the test split has no annotations).
var df2Splits = []struct {
	dir   string
	split Split
}{{"train", Train}, {"validation", Val}}

// df2Item is one garment ("item1", "item2", ...) of a DeepFashion2 annotation file.
type df2Item struct {
	Segmentation [][]float64 `json:"segmentation"`
	Scale        int         `json:"scale"`
	Viewpoint    int         `json:"viewpoint"`
	ZoomIn       int         `json:"zoom_in"`
	Landmarks    []float64   `json:"landmarks"`
	Style        int         `json:"style"`
	BoundingBox  []float64   `json:"bounding_box"`
	CategoryID   int         `json:"category_id"`
	Occlusion    int         `json:"occlusion"`
	CategoryName string      `json:"category_name"`
}

// lineError is a problem at a line of a file that is read whole.
type lineError struct {
	line int
	msg  string
}

// parseDF2 parses one DeepFashion2 annotation file into a sample (without its image name) and the
// problems found, each at the line where the offending value starts.
func parseDF2(data []byte) (Sample, []lineError) {
	var s Sample
	var probs []lineError
	fail := func(off int64, format string, args ...any) {
		probs = append(probs, lineError{lineAt(data, off), fmt.Sprintf(format, args...)})
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		fail(0, "not a JSON object")
		return s, probs
	}
	type numbered struct {
		n int
		g Garment
	}
	var items []numbered
	hasSource := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			fail(errOffset(err, dec.InputOffset()), "%v", err)
			return s, probs
		}
		key, _ := tok.(string)
		off := dec.InputOffset()
		switch {
		case key == "source":
			var src string
			if err := dec.Decode(&src); err != nil {
				fail(errOffset(err, off), "source: %v", err)
				return s, probs
			}
			hasSource = true
			switch src {
			case "shop":
				s.Source = SourceShop
			case "user":
				s.Source = SourceConsumer
			default:
				fail(off, "unknown source %q (want shop or user)", src)
			}
		case key == "pair_id":
			if err := dec.Decode(&s.PairID); err != nil {
				fail(errOffset(err, off), "pair_id: %v", err)
				return s, probs
			}
		case strings.HasPrefix(key, "item"):
			var it df2Item
			if err := dec.Decode(&it); err != nil {
				fail(errOffset(err, off), "%s: %v", key, err)
				return s, probs
			}
			n, err := strconv.Atoi(key[len("item"):])
			if err != nil || n < 1 {
				fail(off, "unexpected key %q (want item1, item2, ...)", key)
				continue
			}
			g, msg := df2Garment(key, it, s.PairID)
			if msg != "" {
				fail(off, "%s", msg)
			}
			items = append(items, numbered{n, g})
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				fail(errOffset(err, off), "%s: %v", key, err)
				return s, probs
			}
		}
	}
	if !hasSource {
		fail(0, "missing \"source\"")
	}
	if len(items) == 0 {
		fail(0, "no garments (item1, item2, ...)")
	}
	slices.SortFunc(items, func(a, b numbered) int { return a.n - b.n })
	for _, it := range items {
		// pair_id may come after the items in the file.
		if it.g.Style > 0 {
			it.g.ItemID = fmt.Sprintf("%d/%d", s.PairID, it.g.Style)
		}
		s.Garments = append(s.Garments, it.g)
	}
	return s, probs
}

// df2Garment converts and checks one item; msg is empty when it is valid.
func df2Garment(key string, it df2Item, pairID int) (g Garment, msg string) {
	g = Garment{Category: it.CategoryID, Style: it.Style, Scale: it.Scale, Occlusion: it.Occlusion, ZoomIn: it.ZoomIn, Viewpoint: it.Viewpoint}
	c, ok := fashion.DF2ClassByID(it.CategoryID)
	if !ok {
		return g, fmt.Sprintf("%s: unknown category_id %d (want 1..%d)", key, it.CategoryID, len(fashion.DF2Classes))
	}
	g.Type = c.Type
	if len(it.BoundingBox) != 4 {
		return g, fmt.Sprintf("%s: bounding_box has %d values, want 4", key, len(it.BoundingBox))
	}
	for i, v := range it.BoundingBox {
		g.Box[i] = float32(v)
	}
	g.HasBox = true
	if err := checkBox(g.Box); err != nil {
		return g, fmt.Sprintf("%s: %v", key, err)
	}
	if len(it.Landmarks) != 3*c.Landmarks {
		return g, fmt.Sprintf("%s: category_id %d (%s) has %d landmarks, landmarks has %d values, want %d",
			key, c.ID, c.Name, c.Landmarks, len(it.Landmarks), 3*c.Landmarks)
	}
	g.DF2Landmarks = make([]Point, c.Landmarks)
	for i := range g.DF2Landmarks {
		x, y, v := it.Landmarks[3*i], it.Landmarks[3*i+1], it.Landmarks[3*i+2]
		p := Point{X: float32(x), Y: float32(y)}
		switch v {
		case 0:
		case 1:
			p.Labeled, p.Vis = true, Occluded
		case 2:
			p.Labeled, p.Vis = true, Visible
		default:
			return g, fmt.Sprintf("%s: landmark %d has v %g, want 0, 1 or 2", key, i+1, v)
		}
		g.DF2Landmarks[i] = p
	}
	return g, ""
}

// errOffset returns where a JSON syntax error is, or def for other errors.
func errOffset(err error, def int64) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	return def
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// DF2Vocabulary is DeepFashion2's label space: its 13 classes as categories, no attributes.
func DF2Vocabulary() fashion.Vocabulary {
	var v fashion.Vocabulary
	for _, c := range fashion.DF2Classes {
		v.Categories = append(v.Categories, fashion.Category{ID: c.ID, Name: c.Name, Type: c.Type})
	}
	return v
}

// deepFashion2 reads train/annos/*.json and validation/annos/*.json; the image of annos/X.json
// is image/X.jpg in the same split folder.
func (w *walker) deepFashion2() error {
	w.vocab = DF2Vocabulary()
	type file struct {
		dir, name string
		split     Split
	}
	var files []file
	found := false
	for _, sp := range df2Splits {
		entries, err := os.ReadDir(filepath.Join(w.dir, sp.dir, "annos"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		found = true
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
				files = append(files, file{sp.dir, e.Name(), sp.split})
			}
		}
	}
	if !found {
		w.errs.add(w.dir, 0, "no train/annos or validation/annos folder")
		return nil
	}
	for _, f := range files {
		path := filepath.Join(w.dir, f.dir, "annos", f.name)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s, probs := parseDF2(data)
		for _, p := range probs {
			w.errs.add(path, p.line, "%s", p.msg)
		}
		s.Image = f.dir + "/image/" + strings.TrimSuffix(f.name, ".json") + ".jpg"
		s.Split = f.split
		w.checkImage(path, 1, s.Image)
		if err := w.deliver(&s, len(files)); err != nil {
			return err
		}
	}
	return nil
}
