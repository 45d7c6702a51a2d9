package model

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/fashion"
)

func tinyNet(scope *mlmodel.Scope, x *graph.Node) *graph.Node {
	return layers.DenseWithBias(scope.In("net").In("dense"), x, 3)
}

func run(t *testing.T, b compute.Backend, store *mlmodel.Store, x [][]float32) []float32 {
	t.Helper()
	out, err := mlmodel.CallOnce(b, store, tinyNet, x)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out)
}

func TestBundleRoundTrip(t *testing.T) {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float32{{1, 2}, {-3, 0.5}}
	store := mlmodel.NewStore()
	store.SetParam(mlmodel.ParamInitialSeed, int64(5))
	want := run(t, backend, store, x)
	// An optimizer-like variable outside the network's scope must stay out of the bundle.
	if _, err := store.CreateVariable("/optimizers/state", tensors.FromValue([]float32{1, 2})); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	b := New(VocabularyOf(fashion.Vocabulary{Categories: fashion.Categories[:3]}, true))
	net := &Network{Task: TaskClassifier, InputSize: [2]int{1, 2}, Channels: 1,
		Normalization: Normalization{Mean: []float32{0.5}, Std: []float32{0.25}},
		Metrics:       json.RawMessage(`{"accuracy":0.5}`)}
	if err := b.SaveNetwork(dir, net, store, "/net"); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(dir); err != nil {
		t.Fatal(err)
	}

	// From the directory, and from an in-memory file system laid out as an embedded bundle would be.
	mapFS := fstest.MapFS{}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		mapFS["models/x/"+filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromFS, err := LoadFS(mapFS, "models/x")
	if err != nil {
		t.Fatal(err)
	}
	for name, loaded := range map[string]*Bundle{"dir": fromDir, "fs": fromFS} {
		if got := strings.Join(loaded.Tasks, ","); got != TaskClassifier {
			t.Errorf("%s: tasks %q", name, got)
		}
		if len(loaded.Vocabulary.Categories) != 3 || loaded.Vocabulary.Categories[0].Type != "upper" || len(loaded.Vocabulary.Landmarks) != fashion.NumLandmarks {
			t.Errorf("%s: vocabulary %+v", name, loaded.Vocabulary)
		}
		fresh := mlmodel.NewStore()
		n, err := loaded.LoadNetwork(TaskClassifier, fresh)
		if err != nil {
			t.Fatal(err)
		}
		var metrics bytes.Buffer
		if err := json.Compact(&metrics, n.Metrics); err != nil || n.Normalization.Std[0] != 0.25 || metrics.String() != `{"accuracy":0.5}` {
			t.Errorf("%s: network %+v", name, n)
		}
		if fresh.GetVariable("/optimizers/state") != nil {
			t.Errorf("%s: optimizer state was saved in the bundle", name)
		}
		got := run(t, backend, fresh, x)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: outputs %v after loading, want %v", name, got, want)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"version", `{"format_version": 99}`, "format version 99"},
		{"missing checkpoint", `{"format_version": 1, "networks": {"classifier": {"task": "classifier", "checkpoint": "classifier"}}}`, "classifier"},
		{"escaping checkpoint", `{"format_version": 1, "networks": {"classifier": {"task": "classifier", "checkpoint": "../x"}}}`, "valid checkpoint"},
		{"not json", `{`, "bundle.json"},
	} {
		fsys := fstest.MapFS{BundleFile: &fstest.MapFile{Data: []byte(tc.json)}}
		_, err := LoadFS(fsys, ".")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("loading an empty directory succeeded")
	}
}

// TestSaveTrainedKeepsConcurrentNetworks trains two networks into one directory at once: each
// training loaded the bundle before the other saved, and both networks must survive.
func TestSaveTrainedKeepsConcurrentNetworks(t *testing.T) {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	store := mlmodel.NewStore()
	run(t, backend, store, [][]float32{{1, 2}})
	dir := t.TempDir()
	vocab := VocabularyOf(fashion.Vocabulary{Categories: fashion.Categories[:3]}, true)
	// The second training starts before the first (which sets the vocabulary) saves.
	second, err := LoadOrNew(dir, Vocabulary{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := LoadOrNew(dir, vocab)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		b    *Bundle
		task string
	}{{first, TaskDetector}, {second, TaskAligner}} {
		if err := s.b.SaveTrained(dir, &Network{Task: s.task}, map[string]int{"width": 3}, nil, store, "/net"); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.Tasks, ","); got != TaskAligner+","+TaskDetector {
		t.Errorf("tasks %q, want both networks", got)
	}
	if len(b.Vocabulary.Categories) != 3 {
		t.Errorf("the vocabulary lost its categories: %+v", b.Vocabulary)
	}
}

func TestNetworkID(t *testing.T) {
	base := Network{Config: json.RawMessage(`{"embedding_dim":128}`), Training: Training{Seed: 1, Steps: 100, Seconds: 12.5}}
	retrained, reconfigured := base, base
	retrained.Training.Seed = 2
	reconfigured.Config = json.RawMessage(`{"embedding_dim":64}`)
	same := base
	same.Metrics = json.RawMessage(`{"top1":0.5}`) // evaluations do not change the weights
	tests := []struct {
		name string
		n    Network
		want bool // same ID as base
	}{
		{"same network", same, true},
		{"another training", retrained, false},
		{"another configuration", reconfigured, false},
	}
	id := base.ID()
	if len(id) != 16 {
		t.Fatalf("ID %q: want 16 hex digits", id)
	}
	for _, tt := range tests {
		if got := tt.n.ID() == id; got != tt.want {
			t.Errorf("%s: ID %q, base %q: same = %v, want %v", tt.name, tt.n.ID(), id, got, tt.want)
		}
	}
}
