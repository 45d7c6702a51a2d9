package fashionnet

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"
)

func TestResizeGrid(t *testing.T) {
	tests := []struct {
		name     string
		w        []float32
		from, to int
		depth    int
		want     []float32
	}{
		{"same size", []float32{1, 2, 3, 4}, 2, 2, 1, []float32{1, 2, 3, 4}},
		// Source coordinates of 4 cells over 2: -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25, 0.75, 1;
		// rows are constant, so each row is [a, .75a+.25b, .25a+.75b, b] scaled by 4/16.
		{"2 to 4", []float32{0, 4, 0, 4}, 2, 4, 1, []float32{
			0, 0.25, 0.75, 1,
			0, 0.25, 0.75, 1,
			0, 0.25, 0.75, 1,
			0, 0.25, 0.75, 1,
		}},
		// Depth values are resampled independently; a constant grid stays constant x from²/to².
		{"depth 2, constant", []float32{1, -2, 1, -2, 1, -2, 1, -2}, 2, 3, 2, []float32{
			4. / 9, -8. / 9, 4. / 9, -8. / 9, 4. / 9, -8. / 9,
			4. / 9, -8. / 9, 4. / 9, -8. / 9, 4. / 9, -8. / 9,
			4. / 9, -8. / 9, 4. / 9, -8. / 9, 4. / 9, -8. / 9,
		}},
		// 3 cells to 1: the centre cell (source coordinate 1), times 9.
		{"shrink", []float32{0, 0, 0, 0, 1, 0, 0, 0, 0}, 3, 1, 1, []float32{9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resizeGrid(tt.w, tt.from, tt.to, tt.depth)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d values, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if math.Abs(float64(got[i]-tt.want[i])) > 1e-6 {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestAdaptInput(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Backbone.InputSize = 96 // a 6 x 6 grid at stride 16
	store := mlmodel.NewStore()
	// Weights of a 64 px network: a 4 x 4 grid of landmarkReduce channels, 2 outputs, all ones.
	ones := make([]float32, 4*4*landmarkReduce*2)
	for i := range ones {
		ones[i] = 1
	}
	if _, err := store.CreateVariable(landmarkHidden, tensors.FromFlatDataAndDimensions(ones, 4*4*landmarkReduce, 2)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.adaptInput(store); err != nil {
		t.Fatal(err)
	}
	v := store.GetVariable(landmarkHidden)
	if got, want := v.Shape().Dimensions, []int{6 * 6 * landmarkReduce, 2}; got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("shape %v, want %v", got, want)
	}
	w, err := tensors.CopyFlatData[float32](v.MustValue())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range w {
		if math.Abs(float64(x)-16./36) > 1e-6 {
			t.Fatalf("weight %v, want 16/36", x)
		}
	}
	// A store without the variable, or with a grid of the right size, is left alone.
	if err := cfg.adaptInput(store); err != nil {
		t.Fatal(err)
	}
	if err := cfg.adaptInput(mlmodel.NewStore()); err != nil {
		t.Fatal(err)
	}
	bad := mlmodel.NewStore()
	if _, err := bad.CreateVariable(landmarkHidden, tensors.FromFlatDataAndDimensions(make([]float32, 10), 5, 2)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.adaptInput(bad); err == nil {
		t.Fatal("a weight that is no square grid was accepted")
	}
}
