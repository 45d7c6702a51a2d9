package fashion

import "testing"

func TestCategories(t *testing.T) {
	counts := map[GarmentType]int{}
	for i, c := range Categories {
		if c.ID != i+1 {
			t.Fatalf("category %q has id %d at index %d", c.Name, c.ID, i)
		}
		counts[c.Type]++
	}
	if len(Categories) != 50 || counts[Upper] != 20 || counts[Lower] != 16 || counts[Full] != 14 {
		t.Fatalf("got %d categories, %v by type; want 50 = 20 upper + 16 lower + 14 full", len(Categories), counts)
	}
	for _, tc := range []struct {
		name string
		id   int
		typ  GarmentType
	}{{"Anorak", 1, Upper}, {"Turtleneck", 20, Upper}, {"Capris", 21, Lower}, {"Trunks", 36, Lower},
		{"Caftan", 37, Full}, {"Dress", 41, Full}, {"Sundress", 50, Full}} {
		c, ok := CategoryByName(tc.name)
		if !ok || c.ID != tc.id || c.Type != tc.typ {
			t.Errorf("CategoryByName(%q) = %+v, %v; want id %d type %v", tc.name, c, ok, tc.id, tc.typ)
		}
	}
}

func TestLandmarkSlots(t *testing.T) {
	for _, tc := range []struct {
		typ  GarmentType
		want []Landmark
	}{
		{Upper, []Landmark{LeftCollar, RightCollar, LeftSleeve, RightSleeve, LeftHem, RightHem}},
		{Lower, []Landmark{LeftWaistline, RightWaistline, LeftHem, RightHem}},
		{Full, []Landmark{0, 1, 2, 3, 4, 5, 6, 7}},
		{TypeUnknown, nil},
	} {
		got := LandmarkSlots(tc.typ)
		if len(got) != len(tc.want) {
			t.Fatalf("LandmarkSlots(%v) = %v, want %v", tc.typ, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("LandmarkSlots(%v) = %v, want %v", tc.typ, got, tc.want)
			}
		}
	}
}

func TestMirror(t *testing.T) {
	for l := Landmark(0); l < NumLandmarks; l++ {
		m := l.Mirror()
		if m.Mirror() != l || m == l {
			t.Errorf("%v mirrors to %v", l, m)
		}
		if l.String()[:4] == "left" && m.String()[:5] != "right" {
			t.Errorf("%v mirrors to %v", l, m)
		}
	}
}

func TestDF2Classes(t *testing.T) {
	want := []int{25, 33, 31, 39, 15, 15, 10, 14, 8, 29, 37, 19, 19}
	total := 0
	for i, c := range DF2Classes {
		if c.ID != i+1 || c.Landmarks != want[i] {
			t.Errorf("DF2 class %d = %+v, want %d landmarks", i+1, c, want[i])
		}
		total += c.Landmarks
	}
	if total != 294 {
		t.Errorf("DF2 landmarks total %d, want 294", total)
	}
}
