package dataset

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/atelier-ml/atelier/fashion"
)

// The fuzz targets check, for every line parser, that no input panics and that whatever parses
// is written back by the writers' code into a line that parses to the same value.

func FuzzParseCount(f *testing.F) {
	for _, s := range []string{"289222", "  072 ", "-1", "", "12a", "9999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		n, err := parseCount(line)
		if err != nil {
			return
		}
		if m, err := parseCount(fmt.Appendf(nil, "%d", n)); err != nil || m != n {
			t.Fatalf("%q -> %d -> %d, %v", line, n, m, err)
		}
	})
}

func FuzzSplitFields(f *testing.F) {
	for _, s := range []string{"img/a.jpg    1", "\t a  b\t\tc ", "", "   "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fields := splitFields(line, nil)
		for _, fl := range fields {
			if len(fl) == 0 || bytes.ContainsAny(fl, " \t") {
				t.Fatalf("%q: bad field %q", line, fl)
			}
		}
		again := splitFields(bytes.Join(fields, []byte(" ")), nil)
		if !reflect.DeepEqual(again, fields) && len(fields) > 0 {
			t.Fatalf("%q: %q then %q", line, fields, again)
		}
	})
}

func FuzzParseNameType(f *testing.F) {
	for _, s := range []string{"abstract chevron print       1", "Anorak  1", "x", "a 1 2", " \t3"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		name, typ, err := parseNameType(line)
		if err != nil {
			return
		}
		lw := &listWriter{width: len(name) + 2}
		lw.name(name)
		lw.int(typ, 1)
		name2, typ2, err := parseNameType(lw.buf)
		if err != nil || name2 != name || typ2 != typ {
			t.Fatalf("%q -> %q %d -> %q -> %q %d %v", line, name, typ, lw.buf, name2, typ2, err)
		}
	})
}

func FuzzParseAttrRow(f *testing.F) {
	for _, s := range []string{"img/a.jpg  -1  1  0", "img/a.jpg 1 1", "img/a.jpg 2 x 1", "", "a -1 -1 -1 -1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		dst := make([]int8, 3)
		name, n, err := parseAttrRow(line, dst)
		if err != nil || n != len(dst) || len(name) == 0 {
			return
		}
		lw := &listWriter{}
		lw.name(string(name))
		for _, v := range dst {
			lw.int(int(v), 1)
		}
		back := make([]int8, 3)
		name2, n2, err := parseAttrRow(lw.buf, back)
		if err != nil || n2 != n || !bytes.Equal(name2, name) || !reflect.DeepEqual(back, dst) {
			t.Fatalf("%q -> %v -> %q -> %v %v", line, dst, lw.buf, back, err)
		}
	})
}

func FuzzParseLandmarkRow(f *testing.F) {
	for _, s := range []string{
		"1  0 146 102  0 173 095  1 094 242  0 205 255  2 136 229  0 177 232",
		"2 3 0 1 1 0 2 2 0 3 3 1 4 4",
		"1 1 0 1 1 0 2 2 2 3 3 0 4 4 0 5 5 0 6 6 0 0 0 0 0 0",
		"3", "4 0 0 0", "1 0 1 1 0 2 2 0 3 3 0 4 4 0 5 5 0 6 6 0 7 7 0 0 0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fields := splitFields(line, nil)
		row, err := parseLandmarkRow(fields)
		if err != nil {
			return
		}
		hasVariation := (len(fields)-1)%3 == 1
		lw := &listWriter{}
		lw.int(int(row.Type), 1)
		if hasVariation {
			lw.int(row.Variation, 1)
		}
		lw.triples(&Garment{Type: row.Type, Landmarks: row.Points}, 0)
		back, err := parseLandmarkRow(splitFields(lw.buf, nil))
		if err != nil || back != row {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", line, row, lw.buf, back, err)
		}
		used := map[fashion.Landmark]bool{}
		for _, l := range fashion.LandmarkSlots(row.Type) {
			used[l] = true
		}
		for l := range fashion.Landmark(fashion.NumLandmarks) {
			if !used[l] && row.Points[l] != (Point{}) {
				t.Fatalf("%q: slot %v, unused by type %v, is %+v", line, l, row.Type, row.Points[l])
			}
		}
	})
}

func FuzzParseDF2(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(df2JSON, "1, 1, 2, 3, 3, 1, 0, 0, 0, 4, 4, 2, 5, 5, 2, 6, 6, 2, 7, 7, 2, 8, 8, 2, 9, 9, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1")))
	f.Add([]byte(`{"source": "shop", "pair_id": 3, "item1": {"category_id": 9, "style": 1, "bounding_box": [1, 2, 3, 4], "landmarks": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}`))
	f.Add([]byte(`{"source": 1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, probs := parseDF2(data)
		for _, p := range probs {
			if p.line < 1 || p.line > 1+bytes.Count(data, []byte{'\n'}) {
				t.Fatalf("problem %q at line %d of a %d-line file", p.msg, p.line, 1+bytes.Count(data, []byte{'\n'}))
			}
		}
		if len(probs) > 0 {
			return
		}
		// Writing rounds coordinates, so compare the second write with the first.
		first, err := encodeDF2(&s)
		if err != nil {
			t.Fatalf("encoding %+v: %v", s, err)
		}
		s2, probs := parseDF2(first)
		if len(probs) > 0 {
			t.Fatalf("%s: %v", first, probs)
		}
		second, err := encodeDF2(&s2)
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("%s\nbecame\n%s (%v)", first, second, err)
		}
	})
}

func FuzzParseIDXHeader(f *testing.F) {
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28}, uint32(idxImages))
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2}, uint32(idxLabels))
	f.Add([]byte{0, 0, 8, 1}, uint32(idxLabels))
	f.Fuzz(func(t *testing.T, data []byte, magic uint32) {
		dims, err := parseIDXHeader(bytes.NewReader(data), magic)
		if err != nil {
			return
		}
		if len(dims) != int(magic&0xff) || len(data) < 4+4*len(dims) {
			t.Fatalf("magic %#x: dims %v from %d bytes", magic, dims, len(data))
		}
	})
}
