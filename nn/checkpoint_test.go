package nn

import (
	"encoding/gob"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// TestCheckpointFormats checks that checkpoints of format 1 (gob-encoded slices), which older
// bundles hold, still load, and that format 2 stores a float32 in 4 bytes.
func TestCheckpointFormats(t *testing.T) {
	want := []float32{1.5, -2, 0.25, 3e-7, 42, -1e9}
	value := tensors.FromValue([][]float32{want[:3], want[3:]})

	v1 := t.TempDir()
	f, err := os.Create(filepath.Join(v1, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	enc := gob.NewEncoder(f)
	for _, x := range []any{1, 1, "/head/w"} {
		if err := enc.Encode(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := value.GobSerialize(enc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	store := model.NewStore()
	if _, err := store.CreateVariable("/head/w", value); err != nil {
		t.Fatal(err)
	}
	v2 := t.TempDir()
	if err := SaveCheckpoint(store, v2, "/head"); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(v2, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if limit := int64(4*len(want) + 100); st.Size() > limit {
		t.Errorf("format 2 checkpoint of %d floats: %d bytes, want at most %d", len(want), st.Size(), limit)
	}

	for _, dir := range []string{v1, v2} {
		loaded := model.NewStore()
		if err := LoadCheckpoint(loaded, os.DirFS(dir), "."); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		v := loaded.GetVariable("/head/w")
		if v == nil {
			t.Fatalf("%s: no variable /head/w", dir)
		}
		got, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		if flat := tensors.MustCopyFlatData[float32](got); !slices.Equal(flat, want) || !got.Shape().Equal(value.Shape()) {
			t.Errorf("%s: loaded %v %v, want %v %v", dir, got.Shape(), flat, value.Shape(), want)
		}
	}
}
