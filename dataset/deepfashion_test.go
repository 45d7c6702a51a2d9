package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/fashion"
)

// writeTree writes files (path relative to dir -> content) and creates empty image files.
func writeTree(t *testing.T, dir string, files map[string]string, images ...string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, img := range images {
		writeTree(t, dir, map[string]string{img: ""})
	}
}

// walkAll reads a dataset and returns its samples and problems (paths relative to dir).
func walkAll(t *testing.T, format, dir string, opts Options) ([]Sample, fashion.Vocabulary, []Error) {
	t.Helper()
	var got []Sample
	vocab, err := Walk(format, dir, opts, func(s *Sample) error {
		got = append(got, *s)
		return nil
	})
	var errs []Error
	if err != nil {
		list, ok := err.(*Errors)
		if !ok {
			t.Fatalf("Walk: %v", err)
		}
		for _, e := range list.List {
			rel, _ := filepath.Rel(dir, e.File)
			errs = append(errs, Error{filepath.ToSlash(rel), e.Line, e.Message})
		}
	}
	return got, vocab, errs
}

// attrFiles is a small Category and Attribute benchmark with every quirk of the real files: runs
// of spaces, right-padded names, zero-padded numbers, attribute names with spaces, CRLF line ends,
// a trailing blank line, landmark rows with and without variation_type, 6/4/8 triples.
func attrFiles() map[string]string {
	return map[string]string{
		attrCategoryCloth: "3\ncategory_name  category_type\nAnorak                       1\nCapris                       2\nDress                        3\n",
		attrAttrCloth:     "3\r\nattribute_name  attribute_type\r\na-line                       3\r\nabstract chevron print       1\r\nfaux   leather 2\r\n",
		attrCategoryImg: "3\nimage_name  category_label\n" +
			"img/A/img_00000001.jpg                        1\n" +
			"img/B/img_00000002.jpg                        02\n" +
			"img/C/img_00000003.jpg\t3   \n\n",
		attrAttrImg: "3\nimage_name  attribute_labels\n" +
			"img/A/img_00000001.jpg   -1  1  0\n" +
			"img/B/img_00000002.jpg                         1 -1 -1\n" +
			"img/C/img_00000003.jpg 0 0 1\n",
		attrBBox: "3\nimage_name  x_1  y_1  x_2  y_2\n" +
			"img/A/img_00000001.jpg                        072 079 232 273\n" +
			"img/B/img_00000002.jpg                        001 002 100 200\n" +
			"img/C/img_00000003.jpg                        010 020 030 040\n",
		attrLandmarks: "3\n" + landmarkHeader(false) + "\n" +
			"img/A/img_00000001.jpg  1  0 146 102  0 173 095  1 094 242  0 205 255  2 136 229  0 177 232\n" +
			"img/B/img_00000002.jpg  2  1  0 010 011  0 012 013  0 014 015  1 016 017\n" +
			"img/C/img_00000003.jpg  3  0 1 1  0 2 2  0 3 3  0 4 4  0 5 5  0 6 6  0 7 7  0 8 8\n",
		evalPartition: "3\nimage_name  evaluation_status\n" +
			"img/A/img_00000001.jpg  train\nimg/B/img_00000002.jpg  val\nimg/C/img_00000003.jpg  test\n",
	}
}

var attrImages = []string{"img/A/img_00000001.jpg", "img/B/img_00000002.jpg", "img/C/img_00000003.jpg"}

func pt(x, y float32, v Visibility) Point { return Point{X: x, Y: y, Vis: v, Labeled: true} }

func TestAttrQuirks(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, attrFiles(), attrImages...)
	got, vocab, errs := walkAll(t, FormatAttr, dir, Options{})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantAttrs := []fashion.Attribute{{ID: 1, Name: "a-line", Type: fashion.Shape}, {ID: 2, Name: "abstract chevron print", Type: fashion.Texture}, {ID: 3, Name: "faux   leather", Type: fashion.Fabric}}
	if !reflect.DeepEqual(vocab.Attributes, wantAttrs) {
		t.Errorf("attributes %+v, want %+v", vocab.Attributes, wantAttrs)
	}
	if len(vocab.Categories) != 3 || vocab.Categories[1] != (fashion.Category{ID: 2, Name: "Capris", Type: fashion.Lower}) {
		t.Errorf("categories %+v", vocab.Categories)
	}
	var up, low, full [fashion.NumLandmarks]Point
	up[fashion.LeftCollar], up[fashion.RightCollar] = pt(146, 102, 0), pt(173, 95, 0)
	up[fashion.LeftSleeve], up[fashion.RightSleeve] = pt(94, 242, 1), pt(205, 255, 0)
	up[fashion.LeftHem], up[fashion.RightHem] = pt(136, 229, 2), pt(177, 232, 0)
	low[fashion.LeftWaistline], low[fashion.RightWaistline] = pt(10, 11, 0), pt(12, 13, 0)
	low[fashion.LeftHem], low[fashion.RightHem] = pt(14, 15, 0), pt(16, 17, 1)
	for i := range full {
		full[i] = pt(float32(i+1), float32(i+1), 0)
	}
	want := []Sample{
		{Image: attrImages[0], Split: Train, Garments: []Garment{{Box: [4]float32{72, 79, 232, 273}, HasBox: true,
			Category: 1, Type: fashion.Upper, Landmarks: up, Attributes: []int8{-1, 1, 0}}}},
		{Image: attrImages[1], Split: Val, Garments: []Garment{{Box: [4]float32{1, 2, 100, 200}, HasBox: true,
			Category: 2, Type: fashion.Lower, Landmarks: low, Variation: 1, Attributes: []int8{1, -1, -1}}}},
		{Image: attrImages[2], Split: Test, Garments: []Garment{{Box: [4]float32{10, 20, 30, 40}, HasBox: true,
			Category: 3, Type: fashion.Full, Landmarks: full, Attributes: []int8{0, 0, 1}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("samples\n got %+v\nwant %+v", got, want)
	}
}

// replaceLine replaces the 1-based line n of s.
func replaceLine(s string, n int, line string) string {
	lines := strings.Split(s, "\n")
	lines[n-1] = line
	return strings.Join(lines, "\n")
}

func dropLine(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(append(lines[:n-1], lines[n:]...), "\n")
}

func TestAttrErrors(t *testing.T) {
	img3 := attrImages[2]
	for _, tc := range []struct {
		name   string
		edit   func(f map[string]string)
		remove string // an image or list file to delete
		opts   Options
		want   []Error
	}{
		{name: "count line", edit: func(f map[string]string) { f[attrBBox] = replaceLine(f[attrBBox], 1, "4") },
			want: []Error{{attrBBox, 1, "count line says 4 rows but the file has 3"}}},
		{name: "count line not a number", edit: func(f map[string]string) { f[evalPartition] = replaceLine(f[evalPartition], 1, "three") },
			want: []Error{{evalPartition, 1, `first line "three" is not a row count`}}},
		{name: "wrong number of fields", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 3, "img/A/img_00000001.jpg  072 079 232")
		}, want: []Error{{attrBBox, 3, "row has 4 fields, want 5 (image_name x_1 y_1 x_2 y_2)"}}},
		{name: "box x2<=x1", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 4, "img/B/img_00000002.jpg  100 002 100 200")
		}, want: []Error{{attrBBox, 4, "box x2 100 <= x1 100"}}},
		{name: "box y2<=y1", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 5, "img/C/img_00000003.jpg  010 040 030 020")
		}, want: []Error{{attrBBox, 5, "box y2 20 <= y1 40"}}},
		{name: "not an integer", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 5, "img/C/img_00000003.jpg  010 04O 030 020")
		}, want: []Error{{attrBBox, 5, `field 3 ("04O") is not an integer`}}},
		{name: "box coordinate out of range", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 5, "img/C/img_00000003.jpg  010 020 999999970 040")
		}, want: []Error{{attrBBox, 5, "coordinate 999999970 is out of range (|x| <= 16777216)"}}},
		{name: "landmark coordinate out of range", edit: func(f map[string]string) {
			f[attrLandmarks] = replaceLine(f[attrLandmarks], 3, "img/A/img_00000001.jpg  1  0 146 102  0 173 095  0 094 242  0 205 255  0 136 99999999  0 177 232")
		}, want: []Error{{attrLandmarks, 3, "landmark 5 (left hem): coordinate 99999999 is out of range (|x| <= 16777216)"}}},
		{name: "landmark count", edit: func(f map[string]string) {
			f[attrLandmarks] = replaceLine(f[attrLandmarks], 3, "img/A/img_00000001.jpg  1  0 146 102  0 173 095  1 094 242  0 205 255")
		}, want: []Error{{attrLandmarks, 3, "clothes_type 1 (upper) has 6 landmarks, row has 4 triples"}}},
		{name: "landmark type disagrees", edit: func(f map[string]string) {
			f[attrLandmarks] = replaceLine(f[attrLandmarks], 4, "img/B/img_00000002.jpg  1  0 1 1  0 2 2  0 3 3  0 4 4  0 5 5  0 6 6")
		}, want: []Error{{attrLandmarks, 4, "clothes_type 1 (upper) disagrees with the garment's type lower"}}},
		{name: "landmark visibility", edit: func(f map[string]string) {
			f[attrLandmarks] = replaceLine(f[attrLandmarks], 4, "img/B/img_00000002.jpg  2  0 1 1  0 2 2  3 3 3  0 4 4")
		}, want: []Error{{attrLandmarks, 4, "landmark 3 (left hem) has visibility 3, want 0, 1 or 2"}}},
		{name: "unknown clothes type", edit: func(f map[string]string) {
			f[attrLandmarks] = replaceLine(f[attrLandmarks], 4, "img/B/img_00000002.jpg  4  0 1 1  0 2 2  0 3 3  0 4 4")
		}, want: []Error{{attrLandmarks, 4, "unknown clothes_type 4 (want 1 upper, 2 lower or 3 full)"}}},
		{name: "unknown category id", edit: func(f map[string]string) {
			f[attrCategoryImg] = replaceLine(f[attrCategoryImg], 4, "img/B/img_00000002.jpg  7")
		}, want: []Error{{attrCategoryImg, 4, "unknown category id 7 (Anno/list_category_cloth.txt has 3)"}}},
		{name: "unknown category type", edit: func(f map[string]string) {
			f[attrCategoryCloth] = replaceLine(f[attrCategoryCloth], 5, "Dress  4")
		}, want: []Error{{attrCategoryCloth, 5, "unknown category type 4 (want 1..3)"}}},
		{name: "unknown attribute type", edit: func(f map[string]string) {
			f[attrAttrCloth] = replaceLine(f[attrAttrCloth], 3, "a-line  6\r")
		}, want: []Error{{attrAttrCloth, 3, "unknown attribute type 6 (want 1..5)"}}},
		{name: "attribute label", edit: func(f map[string]string) {
			f[attrAttrImg] = replaceLine(f[attrAttrImg], 5, "img/C/img_00000003.jpg 0 2 1")
		}, want: []Error{{attrAttrImg, 5, "attribute 2 has label 2, want 1, -1 or 0"}}},
		{name: "attribute count", edit: func(f map[string]string) {
			f[attrAttrImg] = replaceLine(f[attrAttrImg], 5, "img/C/img_00000003.jpg 0 1")
		}, want: []Error{{attrAttrImg, 5, "row has 2 attribute labels, want 3 (Anno/list_attr_cloth.txt has 3 attributes)"}}},
		{name: "unknown split", edit: func(f map[string]string) {
			f[evalPartition] = replaceLine(f[evalPartition], 3, "img/A/img_00000001.jpg  dev")
		}, want: []Error{{evalPartition, 3, `unknown evaluation_status "dev" (want train, val, test)`}}},
		{name: "missing image", remove: img3,
			want: []Error{{attrCategoryImg, 5, "image img/C/img_00000003.jpg does not exist"}}},
		{name: "missing image skipped", remove: img3, opts: Options{SkipImages: true}},
		{name: "missing list", remove: attrBBox, want: []Error{{attrBBox, 0, "file is missing"}}},
		{name: "absent from a list", edit: func(f map[string]string) {
			f[evalPartition] = replaceLine(dropLine(f[evalPartition], 4), 1, "2")
		}, want: []Error{{attrCategoryImg, 4, "image img/B/img_00000002.jpg is listed in Anno/list_category_img.txt but not in Eval/list_eval_partition.txt"}}},
		{name: "absent from the primary list", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 1, "4") + "img/D/img_00000004.jpg  1 1 2 2\n"
		}, want: []Error{{attrBBox, 6, "image img/D/img_00000004.jpg is listed in Anno/list_bbox.txt but not in Anno/list_category_img.txt"}}},
		{name: "listed twice", edit: func(f map[string]string) {
			f[attrCategoryImg] = replaceLine(f[attrCategoryImg], 5, "img/A/img_00000001.jpg  3")
		}, want: []Error{
			{attrCategoryImg, 5, "image img/A/img_00000001.jpg is listed twice (first on line 3)"},
			{attrBBox, 5, "image img/C/img_00000003.jpg is listed in Anno/list_bbox.txt but not in Anno/list_category_img.txt"},
			{attrLandmarks, 5, "image img/C/img_00000003.jpg is listed in Anno/list_landmarks.txt but not in Anno/list_category_img.txt"},
			{evalPartition, 5, "image img/C/img_00000003.jpg is listed in Eval/list_eval_partition.txt but not in Anno/list_category_img.txt"},
			{attrAttrImg, 5, "image img/C/img_00000003.jpg is listed in Anno/list_attr_img.txt but not in Anno/list_category_img.txt"},
		}},
		{name: "all errors collected", edit: func(f map[string]string) {
			f[attrBBox] = replaceLine(f[attrBBox], 3, "img/A/img_00000001.jpg  072 079 032 273")
			f[attrAttrImg] = replaceLine(f[attrAttrImg], 1, "2")
		}, want: []Error{{attrBBox, 3, "box x2 32 <= x1 72"}, {attrAttrImg, 1, "count line says 2 rows but the file has 3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := attrFiles()
			if tc.edit != nil {
				tc.edit(files)
			}
			writeTree(t, dir, files, attrImages...)
			if tc.remove != "" {
				if err := os.Remove(filepath.Join(dir, tc.remove)); err != nil {
					t.Fatal(err)
				}
			}
			got, _, errs := walkAll(t, FormatAttr, dir, tc.opts)
			if !reflect.DeepEqual(errs, tc.want) {
				t.Errorf("errors\n got %v\nwant %v", errs, tc.want)
			}
			if len(got) < 2 {
				t.Errorf("got %d samples; a defect must not hide the other samples", len(got))
			}
		})
	}
}

func TestMaxErrors(t *testing.T) {
	dir := t.TempDir()
	files := attrFiles()
	files[evalPartition] = strings.NewReplacer("train", "x", "val", "y", "test", "z").Replace(files[evalPartition])
	writeTree(t, dir, files, attrImages...)
	_, err := Walk(FormatAttr, dir, Options{MaxErrors: 2}, func(*Sample) error { return nil })
	list, ok := err.(*Errors)
	if !ok || len(list.List) != 2 || list.Omitted != 1 {
		t.Fatalf("got %v, want 2 errors kept and 1 omitted", err)
	}
	want := filepath.Join(dir, evalPartition) + `:3: unknown evaluation_status "x" (want train, val, test) (and 2 more)`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
