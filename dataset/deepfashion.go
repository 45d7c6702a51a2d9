package dataset

import (
	"fmt"
	"strings"

	"github.com/atelier-ml/atelier/fashion"
)

// The list files of each DeepFashion benchmark, relative to the benchmark's root folder.
const (
	attrCategoryCloth = "Anno/list_category_cloth.txt"
	attrCategoryImg   = "Anno/list_category_img.txt"
	attrAttrCloth     = "Anno/list_attr_cloth.txt"
	attrAttrImg       = "Anno/list_attr_img.txt"
	attrBBox          = "Anno/list_bbox.txt"
	attrLandmarks     = "Anno/list_landmarks.txt"
	evalPartition     = "Eval/list_eval_partition.txt"

	inShopBBox      = "Anno/list_bbox_inshop.txt"
	inShopLandmarks = "Anno/list_landmarks_inshop.txt"
	inShopItems     = "Anno/list_item_inshop.txt"

	c2sBBox = "Anno/list_bbox_consumer2shop.txt"

	// FLD's release uses the same names as the Category and Attribute benchmark:
	// Anno/list_bbox.txt, Anno/list_landmarks.txt (with variation_type) and
	// Eval/list_eval_partition.txt (image_name evaluation_status), images under img/.
	fldBBox      = attrBBox
	fldLandmarks = attrLandmarks
)

// nameType is one row of a vocabulary list (list_category_cloth.txt, list_attr_cloth.txt).
type nameType struct {
	name string
	typ  int
}

// readVocab reads a vocabulary list whose types must lie in 1..maxType.
func (w *walker) readVocab(rel, kind string, maxType int) ([]nameType, error) {
	r, err := openList(w.dir, rel, true, w.errs)
	if r == nil || err != nil {
		return nil, err
	}
	var out []nameType
	for r.next() {
		name, typ, err := parseNameType(r.text)
		if err != nil {
			r.errorf("%v", err)
		} else if typ < 1 || typ > maxType {
			r.errorf("unknown %s type %d (want 1..%d)", kind, typ, maxType)
			typ = 0
		}
		// A bad row still takes its id, so that later ids keep their meaning.
		out = append(out, nameType{name, typ})
	}
	return out, r.close()
}

// attr reads the Category and Attribute Prediction benchmark. list_category_img.txt defines the
// samples; the other lists are joined by image name; list_attr_img.txt, the big one, is streamed
// last and each sample is delivered as soon as its attribute row is parsed.
func (w *walker) attr() error {
	cats, err := w.readVocab(attrCategoryCloth, "category", 3)
	if err != nil {
		return err
	}
	attrs, err := w.readVocab(attrAttrCloth, "attribute", 5)
	if err != nil {
		return err
	}
	w.vocab = fashion.Vocabulary{}
	for i, c := range cats {
		w.vocab.Categories = append(w.vocab.Categories, fashion.Category{ID: i + 1, Name: c.name, Type: fashion.GarmentType(c.typ)})
	}
	for i, a := range attrs {
		w.vocab.Attributes = append(w.vocab.Attributes, fashion.Attribute{ID: i + 1, Name: a.name, Type: fashion.AttributeType(a.typ)})
	}

	t := w.newTable(attrCategoryImg)
	r, err := openList(w.dir, attrCategoryImg, true, w.errs)
	if r == nil || err != nil {
		return err
	}
	t.reserve(r.count)
	var id [1]int
	for r.next() {
		fields := r.split()
		g := Garment{}
		if wantFields(r, fields, 2, "image_name category_label") {
			if err := parseInts(fields[1:], id[:], 2); err != nil {
				r.errorf("%v", err)
			} else if c, ok := w.vocab.Category(id[0]); !ok {
				r.errorf("unknown category id %d (%s has %d)", id[0], attrCategoryCloth, len(w.vocab.Categories))
			} else {
				g.Category, g.Type = c.ID, c.Type
			}
		}
		t.add(r.line, Sample{Image: string(fields[0]), Garments: []Garment{g}})
	}
	if err := r.close(); err != nil {
		return err
	}

	if err := t.joinBoxes(attrBBox); err != nil {
		return err
	}
	if err := t.joinLandmarks(attrLandmarks); err != nil {
		return err
	}
	if err := t.joinPartition(evalPartition, Train, Val, Test); err != nil {
		return err
	}

	have, err := t.joinAttrRows(attrAttrImg, len(attrs), func(i int, labels []int8) error {
		// Deliver a copy so that the table never holds the attribute rows.
		s := t.samples[i]
		g := s.Garments[0]
		g.Attributes = labels
		s.Garments = []Garment{g}
		return w.deliver(&s, len(t.samples))
	})
	if err != nil {
		return err
	}
	for i := range t.samples {
		if have == nil || !have[i] {
			if err := w.deliver(&t.samples[i], len(t.samples)); err != nil {
				return err
			}
		}
	}
	return nil
}

// joinPartition joins an "image_name evaluation_status" list.
func (t *table) joinPartition(rel string, allowed ...Split) error {
	_, err := t.join(rel, func(r *listReader, i int) error {
		fields := r.split()
		if !wantFields(r, fields, 2, "image_name evaluation_status") {
			return nil
		}
		s, err := parseSplit(fields[1], allowed...)
		if err != nil {
			r.errorf("%v", err)
		}
		t.samples[i].Split = s
		return nil
	})
	return err
}

// joinBoxes joins an "image_name x_1 y_1 x_2 y_2" list.
func (t *table) joinBoxes(rel string) error {
	_, err := t.join(rel, func(r *listReader, i int) error {
		fields := r.split()
		if !wantFields(r, fields, 5, "image_name x_1 y_1 x_2 y_2") {
			return nil
		}
		setBox(r, &t.samples[i].Garments[0], fields[1:], 2)
		return nil
	})
	return err
}

// joinLandmarks joins a landmark list (see setLandmarks).
func (t *table) joinLandmarks(rel string) error {
	_, err := t.join(rel, func(r *listReader, i int) error {
		setLandmarks(r, &t.samples[i].Garments[0], r.split()[1:])
		return nil
	})
	return err
}

// inShop reads the In-shop Clothes Retrieval benchmark: the partition (image, item, split) defines
// the samples; boxes, landmarks and the item list are checked against it.
func (w *walker) inShop() error {
	items, err := w.readItemList()
	if err != nil {
		return err
	}
	t := w.newTable(evalPartition)
	r, err := openList(w.dir, evalPartition, true, w.errs)
	if r == nil || err != nil {
		return err
	}
	t.reserve(r.count)
	for r.next() {
		fields := r.split()
		s := Sample{Image: string(fields[0]), Garments: []Garment{{}}}
		if wantFields(r, fields, 3, "image_name item_id evaluation_status") {
			s.Garments[0].ItemID = string(fields[1])
			if items != nil && !items[s.Garments[0].ItemID] {
				r.errorf("item %s is not in %s", fields[1], inShopItems)
			}
			var err error
			if s.Split, err = parseSplit(fields[2], Train, Query, Gallery); err != nil {
				r.errorf("%v", err)
			}
		}
		t.add(r.line, s)
	}
	if err := r.close(); err != nil {
		return err
	}
	if _, err := t.join(inShopBBox, func(r *listReader, i int) error {
		fields, typ, pose, ok := parseTypedBox(r, "image_name clothes_type pose_type x_1 y_1 x_2 y_2")
		if !ok {
			return nil
		}
		g := &t.samples[i].Garments[0]
		g.Type, g.Pose = typ, pose
		setBox(r, g, fields[3:], 4)
		return nil
	}); err != nil {
		return err
	}
	if err := t.joinLandmarks(inShopLandmarks); err != nil {
		return err
	}
	return t.deliverAll()
}

// readItemList reads list_item_inshop.txt (a count line, then one item id per line, no header).
func (w *walker) readItemList() (map[string]bool, error) {
	r, err := openList(w.dir, inShopItems, false, w.errs)
	if r == nil || err != nil {
		return nil, err
	}
	items := map[string]bool{}
	for r.next() {
		fields := r.split()
		if !wantFields(r, fields, 1, "item_id") {
			continue
		}
		if items[string(fields[0])] {
			r.errorf("item %s is listed twice", fields[0])
		}
		items[string(fields[0])] = true
	}
	return items, r.close()
}

// c2s reads the Consumer-to-shop Clothes Retrieval benchmark. Each image of the pair list becomes
// one sample (consumer images first seen in column 1, shop images in column 2) with its item id,
// split and source; PairID is the item id's number (id_00000080 -> 80), so that a consumer photo
// and the shop photos of the same product share PairID and ItemID.
func (w *walker) c2s() error {
	t := w.newTable(evalPartition)
	r, err := openList(w.dir, evalPartition, true, w.errs)
	if r == nil || err != nil {
		return err
	}
	for r.next() {
		fields := r.split()
		if !wantFields(r, fields, 4, "image_pair_name_1 image_pair_name_2 item_id evaluation_status") {
			continue
		}
		split, err := parseSplit(fields[3], Train, Val, Test)
		if err != nil {
			r.errorf("%v", err)
		}
		item := string(fields[2])
		pair, perr := itemNumber(item)
		if perr != nil {
			r.errorf("%v", perr)
		}
		for col, src := range []Source{SourceConsumer, SourceShop} {
			name := string(fields[col])
			if i, seen := t.index[name]; seen {
				s := &t.samples[i]
				switch {
				case s.Source != src:
					r.errorf("image %s is a %s image here but a %s image on line %d", name, src, s.Source, t.lines[i])
				case s.Garments[0].ItemID != item:
					r.errorf("image %s has item %s here but %s on line %d", name, item, s.Garments[0].ItemID, t.lines[i])
				case s.Split != split:
					r.errorf("image %s is in split %s here but %s on line %d", name, split, s.Split, t.lines[i])
				}
				continue
			}
			t.add(r.line, Sample{Image: name, Source: src, PairID: pair, Split: split, Garments: []Garment{{ItemID: item}}})
		}
	}
	if err := r.close(); err != nil {
		return err
	}
	if _, err := t.join(c2sBBox, func(r *listReader, i int) error {
		fields, typ, src, ok := parseTypedBox(r, "image_name clothes_type source_type x_1 y_1 x_2 y_2")
		if !ok {
			return nil
		}
		s := &t.samples[i]
		if Source(src) != s.Source {
			r.errorf("source_type %d (%s) disagrees with %s, where the image is a %s image", src, Source(src), evalPartition, s.Source)
			return nil
		}
		s.Garments[0].Type = typ
		setBox(r, &s.Garments[0], fields[3:], 4)
		return nil
	}); err != nil {
		return err
	}
	return t.deliverAll()
}

// parseTypedBox splits a row of In-shop's or Consumer-to-shop's box list (the given seven
// columns: image_name clothes_type, an integer column, then the box) and parses its clothes_type
// and integer column, recording a bad row.
func parseTypedBox(r *listReader, columns string) ([][]byte, fashion.GarmentType, int, bool) {
	fields := r.split()
	if !wantFields(r, fields, 7, columns) {
		return nil, 0, 0, false
	}
	var v [2]int
	if err := parseInts(fields[1:3], v[:], 2); err != nil {
		r.errorf("%v", err)
		return nil, 0, 0, false
	}
	typ := fashion.GarmentType(v[0])
	if fashion.LandmarkSlots(typ) == nil {
		r.errorf("unknown clothes_type %d (want 1 upper, 2 lower or 3 full)", v[0])
		return nil, 0, 0, false
	}
	return fields, typ, v[1], true
}

// itemNumber returns the number of an item id such as "id_00000080".
func itemNumber(item string) (int, error) {
	n, ok := parseInt([]byte(strings.TrimPrefix(item, "id_")))
	if !ok || n < 0 || !strings.HasPrefix(item, "id_") {
		return 0, fmt.Errorf("item_id %q is not of the form id_NNNNNNNN", item)
	}
	return n, nil
}

// String returns "shop", "consumer" or "unknown".
func (s Source) String() string {
	switch s {
	case SourceShop:
		return "shop"
	case SourceConsumer:
		return "consumer"
	}
	return "unknown"
}

// fld reads the Fashion Landmark Detection benchmark: Eval/list_eval_partition.txt defines the
// samples; Anno/list_bbox.txt and Anno/list_landmarks.txt (with variation_type) are joined.
func (w *walker) fld() error {
	t := w.newTable(evalPartition)
	r, err := openList(w.dir, evalPartition, true, w.errs)
	if r == nil || err != nil {
		return err
	}
	t.reserve(r.count)
	for r.next() {
		fields := r.split()
		s := Sample{Image: string(fields[0]), Garments: []Garment{{}}}
		if wantFields(r, fields, 2, "image_name evaluation_status") {
			var err error
			if s.Split, err = parseSplit(fields[1], Train, Val, Test); err != nil {
				r.errorf("%v", err)
			}
		}
		t.add(r.line, s)
	}
	if err := r.close(); err != nil {
		return err
	}
	if err := t.joinBoxes(fldBBox); err != nil {
		return err
	}
	if err := t.joinLandmarks(fldLandmarks); err != nil {
		return err
	}
	return t.deliverAll()
}
