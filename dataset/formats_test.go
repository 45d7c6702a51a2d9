package dataset

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/fashion"
)

func TestInShop(t *testing.T) {
	imgs := []string{"img/MEN/Denim/id_00000080/01_1_front.jpg", "img/MEN/Denim/id_00000080/01_2_side.jpg", "img/WOMEN/Dresses/id_00000002/02_1_front.jpg"}
	files := map[string]string{
		evalPartition: "3\nimage_name  item_id  evaluation_status\n" +
			imgs[0] + "      id_00000080  train\n" + imgs[1] + "   id_00000080  query\n" + imgs[2] + "  id_00000002  gallery\n",
		inShopBBox: "3\nimage_name  clothes_type  pose_type  x_1  y_1  x_2  y_2\n" +
			imgs[0] + "  2  1  050 049 208 235\n" + imgs[1] + "  2  2  050 049 208 235\n" + imgs[2] + "  3  1  010 010 200 250\n",
		inShopLandmarks: "3\n" + landmarkHeader(true) + "\n" +
			imgs[0] + "  2  1  0 083 127  0 170 128  0 079 234  1 178 232\n" +
			imgs[1] + "  2  2  0 083 127  0 170 128  0 079 234  1 178 232\n" +
			imgs[2] + "  3  3  0 1 1  0 2 2  0 3 3  0 4 4  0 5 5  0 6 6  0 7 7  0 8 8\n",
		inShopItems: "2\nid_00000080\nid_00000002\n",
	}
	var low [fashion.NumLandmarks]Point
	low[fashion.LeftWaistline], low[fashion.RightWaistline] = pt(83, 127, 0), pt(170, 128, 0)
	low[fashion.LeftHem], low[fashion.RightHem] = pt(79, 234, 0), pt(178, 232, 1)

	dir := t.TempDir()
	writeTree(t, dir, files, imgs...)
	got, _, errs := walkAll(t, FormatInShop, dir, Options{})
	if len(errs) > 0 || len(got) != 3 {
		t.Fatalf("got %d samples, errors %v", len(got), errs)
	}
	want := Sample{Image: imgs[1], Split: Query, Garments: []Garment{{Box: [4]float32{50, 49, 208, 235}, HasBox: true,
		Type: fashion.Lower, Landmarks: low, ItemID: "id_00000080", Pose: 2, Variation: 2}}}
	if !reflect.DeepEqual(got[1], want) {
		t.Errorf("sample 2\n got %+v\nwant %+v", got[1], want)
	}
	if got[2].Split != Gallery || got[2].Garments[0].Type != fashion.Full || got[2].Garments[0].Variation != 3 {
		t.Errorf("sample 3 %+v", got[2])
	}

	files[inShopItems] = "1\nid_00000080\n"
	files[evalPartition] = replaceLine(files[evalPartition], 4, imgs[1]+" id_00000080 val")
	dir = t.TempDir()
	writeTree(t, dir, files, imgs...)
	_, _, errs = walkAll(t, FormatInShop, dir, Options{})
	wantErrs := []Error{
		{evalPartition, 4, `unknown evaluation_status "val" (want train, query, gallery)`},
		{evalPartition, 5, "item id_00000002 is not in Anno/list_item_inshop.txt"},
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors\n got %v\nwant %v", errs, wantErrs)
	}
}

func TestC2S(t *testing.T) {
	c1, c2, s1 := "img/TOPS/T_Shirt/id_00000001/comsumer_01.jpg", "img/TOPS/T_Shirt/id_00000001/comsumer_02.jpg", "img/TOPS/T_Shirt/id_00000001/shop_01.jpg"
	files := map[string]string{
		evalPartition: "2\nimage_pair_name_1  image_pair_name_2  item_id  evaluation_status\n" +
			c1 + "  " + s1 + "      id_00000001  train\n" + c2 + "  " + s1 + "  id_00000001  train\n",
		c2sBBox: "3\nimage_name  clothes_type  source_type  x_1  y_1  x_2  y_2\n" +
			c1 + "  1  2  010 020 110 220\n" + s1 + "  1  1  005 006 200 210\n" + c2 + "  1  2  001 001 002 002\n",
	}
	dir := t.TempDir()
	writeTree(t, dir, files, c1, c2, s1)
	got, _, errs := walkAll(t, FormatC2S, dir, Options{})
	if len(errs) > 0 {
		t.Fatalf("errors %v", errs)
	}
	var names []string
	for _, s := range got {
		names = append(names, fmt.Sprintf("%s %v %d %s %v", s.Image, s.Source, s.PairID, s.Garments[0].ItemID, s.Garments[0].Box))
	}
	want := []string{c1 + " consumer 1 id_00000001 [10 20 110 220]", s1 + " shop 1 id_00000001 [5 6 200 210]", c2 + " consumer 1 id_00000001 [1 1 2 2]"}
	if !slices.Equal(names, want) {
		t.Errorf("samples\n got %q\nwant %q", names, want)
	}

	files[c2sBBox] = replaceLine(files[c2sBBox], 4, s1+"  1  2  005 006 200 210")
	files[evalPartition] = replaceLine(files[evalPartition], 4, c2+"  "+s1+"  id_00000002  train")
	dir = t.TempDir()
	writeTree(t, dir, files, c1, c2, s1)
	_, _, errs = walkAll(t, FormatC2S, dir, Options{})
	wantErrs := []Error{
		{evalPartition, 4, "image " + s1 + " has item id_00000002 here but id_00000001 on line 3"},
		{c2sBBox, 4, "source_type 2 (consumer) disagrees with Eval/list_eval_partition.txt, where the image is a shop image"},
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors\n got %v\nwant %v", errs, wantErrs)
	}
}

func TestFLD(t *testing.T) {
	imgs := []string{"img/img_00000001.jpg", "img/img_00000002.jpg"}
	files := map[string]string{
		evalPartition: "2\nimage_name  evaluation_status\n" + imgs[0] + "  train\n" + imgs[1] + "  test\n",
		fldBBox:       "2\nimage_name  x_1  y_1  x_2  y_2\n" + imgs[0] + "  010 010 300 400\n" + imgs[1] + "  010 010 300 400\n",
		// Upper-body rows carry the six used triples then two empty ones.
		fldLandmarks: "2\n" + landmarkHeader(true) + "\n" +
			imgs[0] + "  1  1  0 1 1  0 2 2  2 3 3  0 4 4  0 5 5  0 6 6  0 0 0  0 0 0\n" +
			imgs[1] + "  2  5  0 1 1  0 2 2  0 3 3  0 4 4  0 000 000  0 000 000  0 000 000  0 000 000\n",
	}
	dir := t.TempDir()
	writeTree(t, dir, files, imgs...)
	got, _, errs := walkAll(t, FormatFLD, dir, Options{})
	if len(errs) > 0 || len(got) != 2 {
		t.Fatalf("got %d samples, errors %v", len(got), errs)
	}
	g := got[0].Garments[0]
	if g.Type != fashion.Upper || g.Variation != 1 || g.Landmarks[fashion.LeftSleeve] != pt(3, 3, Truncated) ||
		g.Landmarks[fashion.RightHem] != pt(6, 6, 0) || g.Landmarks[fashion.LeftWaistline].Labeled {
		t.Errorf("upper garment %+v", g)
	}
	if g := got[1].Garments[0]; g.Type != fashion.Lower || g.Variation != 5 || g.Landmarks[fashion.RightHem] != pt(4, 4, 0) || got[1].Split != Test {
		t.Errorf("lower sample %+v", got[1])
	}

	files[fldLandmarks] = replaceLine(files[fldLandmarks], 3, imgs[0]+"  1  1  0 1 1  0 2 2  2 3 3  0 4 4  0 5 5  0 6 6  0 7 7  0 0 0")
	dir = t.TempDir()
	writeTree(t, dir, files, imgs...)
	_, _, errs = walkAll(t, FormatFLD, dir, Options{})
	wantErrs := []Error{{fldLandmarks, 3, "clothes_type 1 (upper) has 6 landmarks, row has 7 non-empty triples"}}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors\n got %v\nwant %v", errs, wantErrs)
	}
}

// df2JSON is a DeepFashion2 annotation file as the release prints it, one key per line.
const df2JSON = `{
  "source": "user",
  "pair_id": 7,
  "item2": {
    "segmentation": [[1, 2, 3, 4, 5, 6]],
    "scale": 2, "viewpoint": 3, "zoom_in": 1, "style": 0, "occlusion": 2,
    "landmarks": [1, 2, 2, 3, 4, 1, 0, 0, 0, 5, 6, 2, 7, 8, 2, 9, 10, 2, 11, 12, 2, 13, 14, 2],
    "bounding_box": [10, 20, 110, 220],
    "category_id": 9, "category_name": "skirt"
  },
  "item1": {
    "segmentation": [],
    "scale": 1, "viewpoint": 2, "zoom_in": 1, "style": 3, "occlusion": 1,
    "landmarks": ` + "[%s]" + `,
    "bounding_box": [1, 2, 30, 40],
    "category_id": 1, "category_name": "short sleeve top"
  }
}
`

func TestDeepFashion2(t *testing.T) {
	lm := strings.TrimSuffix(strings.Repeat("1, 1, 2, ", 25), ", ")
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"train/annos/000001.json": fmt.Sprintf(df2JSON, lm), "validation/annos/000002.json": fmt.Sprintf(df2JSON, lm)},
		"train/image/000001.jpg", "validation/image/000002.jpg")
	got, vocab, errs := walkAll(t, FormatDeepFashion2, dir, Options{})
	if len(errs) > 0 || len(got) != 2 {
		t.Fatalf("got %d samples, errors %v", len(got), errs)
	}
	s := got[0]
	if s.Image != "train/image/000001.jpg" || s.Split != Train || got[1].Split != Val || s.Source != SourceConsumer || s.PairID != 7 || len(s.Garments) != 2 {
		t.Fatalf("sample %+v", s)
	}
	top, skirt := s.Garments[0], s.Garments[1]
	if top.Category != 1 || top.ItemID != "7/3" || top.Style != 3 || len(top.DF2Landmarks) != 25 || top.Type != fashion.Upper {
		t.Errorf("item1 %+v", top)
	}
	wantSkirt := Garment{Box: [4]float32{10, 20, 110, 220}, HasBox: true, Category: 9, Type: fashion.Lower,
		DF2Landmarks: []Point{pt(1, 2, Visible), pt(3, 4, Occluded), {}, pt(5, 6, Visible), pt(7, 8, Visible), pt(9, 10, Visible), pt(11, 12, Visible), pt(13, 14, Visible)},
		Scale:        2, Viewpoint: 3, ZoomIn: 1, Occlusion: 2}
	if !reflect.DeepEqual(skirt, wantSkirt) {
		t.Errorf("item2\n got %+v\nwant %+v", skirt, wantSkirt)
	}
	if len(vocab.Categories) != 13 || vocab.Categories[8].Name != "skirt" {
		t.Errorf("vocabulary %+v", vocab.Categories)
	}

	bad := strings.Replace(fmt.Sprintf(df2JSON, "1, 1, 2"), `"bounding_box": [10, 20, 110, 220]`, `"bounding_box": [10, 20, 10, 220]`, 1)
	dir = t.TempDir()
	writeTree(t, dir, map[string]string{
		"train/annos/000001.json": bad,
		"train/annos/000002.json": "{\n  \"source\": \"shop\",\n  \"pair_id\": 1,,\n}",
		"train/annos/000003.json": strings.Replace(fmt.Sprintf(df2JSON, lm), `"category_id": 9`, `"category_id": 14`, 1),
	}, "train/image/000001.jpg", "train/image/000003.jpg")
	_, _, errs = walkAll(t, FormatDeepFashion2, dir, Options{})
	wantErrs := []Error{
		{"train/annos/000001.json", 4, "item2: box x2 10 <= x1 10"},
		{"train/annos/000001.json", 11, "item1: category_id 1 (short sleeve top) has 25 landmarks, landmarks has 3 values, want 75"},
		{"train/annos/000002.json", 3, "invalid character ',' looking for beginning of object key string"},
		{"train/annos/000002.json", 1, "image train/image/000002.jpg does not exist"},
		{"train/annos/000003.json", 4, "item2: unknown category_id 14 (want 1..13)"},
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors\n got %v\nwant %v", errs, wantErrs)
	}
}

// randomGarment makes a garment of type typ with integer coordinates, every slot of its type
// labeled (as the list files label them).
func randomGarment(rng *rand.Rand, typ fashion.GarmentType) Garment {
	x, y := float32(rng.IntN(100)), float32(rng.IntN(100))
	g := Garment{Type: typ, HasBox: true, Box: [4]float32{x, y, x + 1 + float32(rng.IntN(300)), y + 1 + float32(rng.IntN(300))}}
	for _, s := range fashion.LandmarkSlots(typ) {
		g.Landmarks[s] = pt(float32(rng.IntN(1000)), float32(rng.IntN(1000)), Visibility(rng.IntN(3)))
	}
	return g
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []fashion.GarmentType{fashion.Upper, fashion.Lower, fashion.Full}
	vocab := fashion.Vocabulary{Categories: fashion.Categories, Attributes: []fashion.Attribute{
		{ID: 1, Name: "a-line", Type: fashion.Shape}, {ID: 2, Name: "abstract chevron print", Type: fashion.Texture}, {ID: 3, Name: "zip", Type: fashion.Part}}}
	splits := []Split{Train, Val, Test}
	gen := map[string]func(i int) Sample{
		FormatAttr: func(i int) Sample {
			c := fashion.Categories[rng.IntN(len(fashion.Categories))]
			g := randomGarment(rng, c.Type)
			g.Category = c.ID
			g.Attributes = []int8{int8(rng.IntN(3) - 1), int8(rng.IntN(3) - 1), int8(rng.IntN(3) - 1)}
			return Sample{Image: fmt.Sprintf("img/%s/img_%08d.jpg", c.Name, i), Split: splits[i%3], Garments: []Garment{g}}
		},
		FormatInShop: func(i int) Sample {
			g := randomGarment(rng, types[i%3])
			g.ItemID, g.Pose, g.Variation = fmt.Sprintf("id_%08d", i/4), 1+rng.IntN(6), 1+rng.IntN(5)
			return Sample{Image: fmt.Sprintf("img/WOMEN/Tees/id_%08d/%02d_%d_front.jpg", i/4, i, i%4), Split: []Split{Train, Query, Gallery}[i/4%3], Garments: []Garment{g}}
		},
		FormatC2S: func(i int) Sample {
			g := randomGarment(rng, types[i/3%3])
			g.ItemID = fmt.Sprintf("id_%08d", i/3+1)
			g.Landmarks = [fashion.NumLandmarks]Point{} // Consumer-to-shop has no landmarks.
			src := []Source{SourceConsumer, SourceConsumer, SourceShop}[i%3]
			return Sample{Image: fmt.Sprintf("img/TOPS/id_%08d/%d.jpg", i/3+1, i), Source: src, PairID: i/3 + 1, Split: splits[i/3%3], Garments: []Garment{g}}
		},
		FormatFLD: func(i int) Sample {
			g := randomGarment(rng, types[i%3])
			g.Variation = 1 + rng.IntN(5)
			return Sample{Image: fmt.Sprintf("img/img_%08d.jpg", i+1), Split: splits[i%3], Garments: []Garment{g}}
		},
		FormatDeepFashion2: func(i int) Sample {
			s := Sample{Image: fmt.Sprintf("%s/image/%06d.jpg", []string{"train", "validation"}[i%2], i+1), Split: []Split{Train, Val}[i%2],
				Source: []Source{SourceShop, SourceConsumer}[i/2%2], PairID: i / 4}
			for range 1 + rng.IntN(3) {
				c := fashion.DF2Classes[rng.IntN(len(fashion.DF2Classes))]
				g := randomGarment(rng, fashion.TypeUnknown)
				g.Category, g.Type, g.Style = c.ID, c.Type, rng.IntN(3)
				g.Scale, g.Occlusion, g.ZoomIn, g.Viewpoint = 1+rng.IntN(3), 1+rng.IntN(3), 1+rng.IntN(3), 1+rng.IntN(3)
				if g.Style > 0 {
					g.ItemID = fmt.Sprintf("%d/%d", s.PairID, g.Style)
				}
				for range c.Landmarks {
					p := Point{}
					if v := rng.IntN(3); v > 0 {
						p = pt(float32(rng.IntN(500)), float32(rng.IntN(500)), Visibility(2-v))
					}
					g.DF2Landmarks = append(g.DF2Landmarks, p)
				}
				s.Garments = append(s.Garments, g)
			}
			return s
		},
	}
	for _, format := range []string{FormatAttr, FormatInShop, FormatC2S, FormatFLD, FormatDeepFashion2} {
		t.Run(format, func(t *testing.T) {
			d := &Dataset{Format: format, Vocab: vocab}
			var images []string
			for i := range 30 {
				d.Samples = append(d.Samples, gen[format](i))
				images = append(images, d.Samples[i].Image)
			}
			dir := t.TempDir()
			if err := Write(format, dir, d); err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, nil, images...)
			back, err := Load(format, dir)
			if err != nil {
				t.Fatal(err)
			}
			// Consumer-to-shop lists images in pair order, not in sample order.
			byImage := func(a, b Sample) int { return strings.Compare(a.Image, b.Image) }
			want := slices.Clone(d.Samples)
			slices.SortFunc(want, byImage)
			slices.SortFunc(back.Samples, byImage)
			for i := range want {
				if !reflect.DeepEqual(back.Samples[i], want[i]) {
					t.Fatalf("sample %d\n got %+v\nwant %+v", i, back.Samples[i], want[i])
				}
			}
			if len(back.Samples) != len(want) {
				t.Errorf("read back %d samples, wrote %d", len(back.Samples), len(want))
			}
			if format == FormatAttr && !reflect.DeepEqual(back.Vocab, vocab) {
				t.Errorf("vocabulary\n got %+v\nwant %+v", back.Vocab, vocab)
			}
		})
	}
}

// TestWalkStops checks that an error from the callback stops a walk (here in the middle of the
// parallel attribute rows) and comes back unchanged.
func TestWalkStops(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := &Dataset{Vocab: fashion.Vocabulary{Categories: fashion.Categories, Attributes: []fashion.Attribute{{ID: 1, Name: "zip", Type: fashion.Part}}}}
	for i := range 2000 {
		g := randomGarment(rng, fashion.Upper)
		g.Category, g.Attributes = 1, []int8{1}
		d.Samples = append(d.Samples, Sample{Image: fmt.Sprintf("img/%d.jpg", i), Split: Train, Garments: []Garment{g}})
	}
	dir := t.TempDir()
	if err := Write(FormatAttr, dir, d); err != nil {
		t.Fatal(err)
	}
	stop := fmt.Errorf("stop")
	n := 0
	_, err := Walk(FormatAttr, dir, Options{SkipImages: true}, func(s *Sample) error {
		if n++; n == 700 {
			return stop
		}
		return nil
	})
	if err != stop || n != 700 {
		t.Errorf("Walk returned %v after %d samples, want %v after 700", err, n, stop)
	}
}

func TestWriteRefuses(t *testing.T) {
	good := Sample{Image: "img/a.jpg", Garments: []Garment{{HasBox: true, Box: [4]float32{0, 0, 1, 1}, Type: fashion.Upper}}}
	for _, tc := range []struct {
		name, format string
		edit         func(s *Sample)
		want         string
	}{
		{"two garments", FormatAttr, func(s *Sample) { s.Garments = append(s.Garments, s.Garments[0]) }, "image img/a.jpg has 2 garments, the format holds exactly 1"},
		{"no box", FormatFLD, func(s *Sample) { s.Garments[0].HasBox = false }, "image img/a.jpg has no box"},
		{"no type", FormatInShop, func(s *Sample) { s.Garments[0].Type = fashion.TypeUnknown }, "image img/a.jpg has garment type unknown"},
		{"space in name", FormatAttr, func(s *Sample) { s.Image = "img/a b.jpg" }, `image name "img/a b.jpg" is empty or holds white space, which list files cannot hold`},
		{"unpaired consumer", FormatC2S, func(s *Sample) { s.Source = SourceConsumer; s.Garments[0].ItemID = "id_00000001" }, "consumer image img/a.jpg has no shop image of item id_00000001 in split "},
		{"DeepFashion2 name", FormatDeepFashion2, func(s *Sample) { s.Split = Train }, `image img/a.jpg in split "train" is not named train/image/NAME.jpg or validation/image/NAME.jpg`},
		{"Fashion-MNIST", FormatFashionMNIST, func(*Sample) {}, "writing format \"fashion-mnist\" is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Garments = slices.Clone(good.Garments)
			tc.edit(&s)
			err := Write(tc.format, t.TempDir(), &Dataset{Samples: []Sample{s}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Write: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
