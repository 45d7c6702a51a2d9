package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/atelier-ml/atelier/fashion"
)

// maxLine bounds one list-file line; a 1000-attribute row is about 3 KB.
const maxLine = 16 << 20

// listReader reads one DeepFashion list file: a count line, a header line (except
// list_item_inshop.txt), then rows whose fields are separated by runs of spaces. It hands out each
// row as bytes without allocating and checks the count line against the rows at the end.
type listReader struct {
	path   string
	f      *os.File
	sc     *bufio.Scanner
	line   int // line number of the current row
	count  int // the count line's value, -1 when unreadable
	rows   int
	text   []byte
	errs   *collector
	fields [][]byte
}

// openList opens dir/rel. A missing file is recorded in errs and reported as (nil, nil); other
// failures to open are returned.
func openList(dir, rel string, header bool, errs *collector) (*listReader, error) {
	path := filepath.Join(dir, rel)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		errs.add(path, 0, "file is missing")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	r := &listReader{path: path, f: f, sc: sc, count: -1, errs: errs}
	if !r.scan() {
		errs.add(path, 1, "file is empty; want a count line")
		return r, nil
	}
	if n, err := parseCount(r.text); err != nil {
		errs.add(path, 1, "%v", err)
	} else {
		r.count = n
	}
	if header && !r.scan() && r.count > 0 {
		errs.add(path, 2, "missing header line")
	}
	return r, nil
}

// scan reads the next physical line, without its line ending.
func (r *listReader) scan() bool {
	if !r.sc.Scan() {
		return false
	}
	r.line++
	r.text = bytes.TrimRight(r.sc.Bytes(), "\r")
	return true
}

// next advances to the next row, skipping blank lines.
func (r *listReader) next() bool {
	for r.scan() {
		if len(bytes.TrimSpace(r.text)) > 0 {
			r.rows++
			return true
		}
	}
	return false
}

// split returns the current row's fields; the slice is reused by the next call.
func (r *listReader) split() [][]byte {
	r.fields = splitFields(r.text, r.fields[:0])
	return r.fields
}

// errorf records a problem on the current row.
func (r *listReader) errorf(format string, args ...any) { r.errs.add(r.path, r.line, format, args...) }

// close checks the count line against the rows read and returns a read failure, if any.
func (r *listReader) close() error {
	defer r.f.Close()
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			r.errs.add(r.path, r.line+1, "line longer than %d bytes", maxLine)
			return nil
		}
		return fmt.Errorf("reading %s:%d: %w", r.path, r.line+1, err)
	}
	if r.count >= 0 && r.count != r.rows {
		r.errs.add(r.path, 1, "count line says %d rows but the file has %d", r.count, r.rows)
	}
	return nil
}

// parseCount parses a list file's first line, the number of rows.
func parseCount(line []byte) (int, error) {
	n, ok := parseInt(bytes.TrimSpace(line))
	if !ok || n < 0 {
		return 0, fmt.Errorf("first line %q is not a row count", truncate(line))
	}
	return n, nil
}

// splitFields appends to dst the fields of line separated by runs of spaces or tabs.
func splitFields(line []byte, dst [][]byte) [][]byte {
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if i > start {
			dst = append(dst, line[start:i])
		}
	}
	return dst
}

// parseInt parses an optionally signed decimal integer, zero padding allowed ("072"). It refuses
// more than 9 digits, which no DeepFashion field needs, so that it cannot overflow.
func parseInt(b []byte) (int, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseInts parses fields as integers into dst (same length), naming the first bad one.
func parseInts(fields [][]byte, dst []int, firstField int) error {
	for i, f := range fields {
		n, ok := parseInt(f)
		if !ok {
			return fmt.Errorf("field %d (%q) is not an integer", firstField+i, truncate(f))
		}
		dst[i] = n
	}
	return nil
}

// parseNameType parses a vocabulary row of list_category_cloth.txt or list_attr_cloth.txt: the
// last field is the type and everything before it, trimmed, is the name (which may hold spaces).
func parseNameType(line []byte) (string, int, error) {
	line = bytes.TrimSpace(line)
	cut := bytes.LastIndexAny(line, " \t")
	if cut < 0 {
		return "", 0, fmt.Errorf("row has 1 field, want a name and a type")
	}
	typ, ok := parseInt(line[cut+1:])
	if !ok {
		return "", 0, fmt.Errorf("type %q is not an integer", truncate(line[cut+1:]))
	}
	return string(bytes.TrimSpace(line[:cut])), typ, nil
}

// parseAttrRow parses a list_attr_img.txt row into its image name and labels, without allocating.
// It returns how many labels the row holds so that a wrong count can be reported; dst is filled
// only up to its length. This is the hot loop of reading DeepFashion (289 million labels), so the
// three valid labels take a fast path.
func parseAttrRow(line []byte, dst []int8) (name []byte, n int, err error) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	start := i
	for i < len(line) && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	name = line[start:i]
	for i < len(line) {
		if c := line[i]; c == ' ' || c == '\t' {
			i++
			continue
		}
		start = i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		tok := line[start:i]
		n++
		var v int8
		switch {
		case len(tok) == 1 && (tok[0] == '0' || tok[0] == '1'):
			v = int8(tok[0] - '0')
		case len(tok) == 2 && tok[0] == '-' && tok[1] == '1':
			v = -1
		default:
			if err == nil {
				if x, ok := parseInt(tok); !ok {
					err = fmt.Errorf("attribute %d label %q is not an integer", n, truncate(tok))
				} else if x < -1 || x > 1 {
					err = fmt.Errorf("attribute %d has label %d, want 1, -1 or 0", n, x)
				} else {
					v = int8(x) // zero-padded or signed: "01", "+1", "-0"
				}
			}
		}
		if n <= len(dst) {
			dst[n-1] = v
		}
	}
	return name, n, err
}

// landmarkRow is a parsed landmark row of any DeepFashion benchmark.
type landmarkRow struct {
	Type      fashion.GarmentType
	Variation int
	Points    [fashion.NumLandmarks]Point
}

// parseLandmarkRow parses the fields after the image name of a landmark row: clothes_type, an
// optional variation_type, then (visibility, x, y) triples. Whether the variation column is there is
// told by the number of fields (triples come in threes). The triples fill the clothes type's slots
// (fashion.LandmarkSlots: 6 upper, 4 lower, 8 full); a row may also carry all 8 triples with the
// ones its type does not use set to zero, as FLD's files do.
func parseLandmarkRow(fields [][]byte) (landmarkRow, error) {
	var row landmarkRow
	if len(fields) == 0 {
		return row, fmt.Errorf("row has no clothes_type")
	}
	var vals [2 + 3*fashion.NumLandmarks]int
	if len(fields) > len(vals) {
		return row, fmt.Errorf("row has %d fields after the image name, want at most %d", len(fields), len(vals))
	}
	if err := parseInts(fields, vals[:len(fields)], 2); err != nil {
		return row, err
	}
	row.Type = fashion.GarmentType(vals[0])
	slots := fashion.LandmarkSlots(row.Type)
	if slots == nil {
		return row, fmt.Errorf("unknown clothes_type %d (want 1 upper, 2 lower or 3 full)", vals[0])
	}
	rest := vals[1:len(fields)]
	if len(rest)%3 == 1 {
		row.Variation = rest[0]
		rest = rest[1:]
	}
	if len(rest)%3 != 0 {
		return row, fmt.Errorf("row has %d values after clothes_type, want a variation_type and/or (visibility, x, y) triples", len(fields)-1)
	}
	triples := len(rest) / 3
	if triples != len(slots) && triples != fashion.NumLandmarks {
		return row, fmt.Errorf("clothes_type %d (%v) has %d landmarks, row has %d triples", vals[0], row.Type, len(slots), triples)
	}
	for t := len(slots); t < triples; t++ {
		if rest[3*t] != 0 || rest[3*t+1] != 0 || rest[3*t+2] != 0 {
			return row, fmt.Errorf("clothes_type %d (%v) has %d landmarks, row has %d non-empty triples", vals[0], row.Type, len(slots), t+1)
		}
	}
	for t, slot := range slots {
		v, x, y := rest[3*t], rest[3*t+1], rest[3*t+2]
		if v < 0 || v > 2 {
			return row, fmt.Errorf("landmark %d (%v) has visibility %d, want 0, 1 or 2", t+1, slot, v)
		}
		if err := checkCoords(x, y); err != nil {
			return row, fmt.Errorf("landmark %d (%v): %w", t+1, slot, err)
		}
		row.Points[slot] = Point{X: float32(x), Y: float32(y), Vis: Visibility(v), Labeled: true}
	}
	return row, nil
}

// maxCoord bounds pixel coordinates: float32, which holds them, is exact up to 2^24.
const maxCoord = 1 << 24

// checkCoords reports a coordinate too large to be a pixel position held exactly.
func checkCoords(v ...int) error {
	for _, x := range v {
		if x > maxCoord || x < -maxCoord {
			return fmt.Errorf("coordinate %d is out of range (|x| <= %d)", x, maxCoord)
		}
	}
	return nil
}

// checkBox reports a box whose corners are not in order.
func checkBox(b [4]float32) error {
	if b[2] <= b[0] {
		return fmt.Errorf("box x2 %g <= x1 %g", b[2], b[0])
	}
	if b[3] <= b[1] {
		return fmt.Errorf("box y2 %g <= y1 %g", b[3], b[1])
	}
	return nil
}

// truncate keeps error messages short when a field is garbage.
func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
