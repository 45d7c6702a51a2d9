package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes/gotype"
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/atelier-ml/atelier/imageio"
)

// Exec is a compiled inference graph that is safe for concurrent use: GoMLX's Exec is not, so
// calls take turns, and its panics come back as errors.
type Exec struct {
	mu   sync.Mutex
	exec *mlmodel.Exec
}

// NewExec compiles graphFn on the variables of store (see mlmodel.NewExec).
func NewExec[F mlmodel.ExecGraphFn](backend compute.Backend, store *mlmodel.Store, graphFn F) (*Exec, error) {
	exec, err := mlmodel.NewExec(backend, store, graphFn)
	if err != nil {
		return nil, err
	}
	return &Exec{exec: exec}, nil
}

// Call runs the graph on args.
func (e *Exec) Call(args ...any) ([]*tensors.Tensor, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var outs []*tensors.Tensor
	err := exceptions.TryCatch[error](func() {
		var err error
		if outs, err = e.exec.Call(args...); err != nil {
			panic(err)
		}
	})
	return outs, err
}

// Take copies an output's values out and releases the tensor: outputs are read once.
func Take[T gotype.Supported](t *tensors.Tensor) []T {
	v := tensors.MustCopyFlatData[T](t)
	_ = t.FinalizeAll()
	return v
}

// Close releases the compiled graphs.
func (e *Exec) Close() { e.exec.Finalize() }

// LoadConfigured loads the variables of the task's network into a new store and decodes the
// network's config into cfg.
func (b *Bundle) LoadConfigured(task string, cfg any) (*Network, *mlmodel.Store, error) {
	store := mlmodel.NewStore()
	net, err := b.LoadNetwork(task, store)
	if err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal(net.Config, cfg); err != nil {
		return nil, nil, fmt.Errorf("%s config in the bundle: %w", task, err)
	}
	return net, store, nil
}

// SaveTrained records a newly trained network in the bundle directory dir: it encodes cfg and
// metrics (none when nil) into net, saves the variables of store under scope (the network's) and
// writes bundle.json, keeping the other networks of the bundle already in dir and the parts of
// its vocabulary that b leaves empty. A bundle.json in dir that cannot be read is an error.
func (b *Bundle) SaveTrained(dir string, net *Network, cfg, metrics any, store *mlmodel.Store, scope string) error {
	var err error
	if net.Config, err = json.Marshal(cfg); err != nil {
		return err
	}
	if net.Metrics, err = json.Marshal(metrics); err != nil {
		return err
	}
	if string(net.Metrics) == "null" {
		net.Metrics = nil
	}
	if err := b.SaveNetwork(dir, net, store, scope); err != nil {
		return err
	}
	// Trainings of other networks may have saved into dir since b was loaded: keep their entries,
	// which describe the checkpoints now on disk, and the parts of the vocabulary this one leaves.
	disk, err := Load(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		for task, n := range disk.Networks {
			if task != net.Task {
				b.Networks[task] = n
			}
		}
		v := &b.Vocabulary
		v.Categories = orElse(v.Categories, disk.Vocabulary.Categories)
		v.Attributes = orElse(v.Attributes, disk.Vocabulary.Attributes)
		v.Landmarks = orElse(v.Landmarks, disk.Vocabulary.Landmarks)
	}
	return b.Save(dir)
}

// RGBNetwork describes a network of square RGB inputs of side size, normalised by norm.
func RGBNetwork(task string, size int, norm imageio.Norm, t Training) *Network {
	return &Network{Task: task, InputSize: [2]int{size, size}, Channels: 3,
		Normalization: Normalization{Mean: norm.Mean, Std: norm.Std}, Training: t}
}

// orElse returns s, or other when s is empty.
func orElse[T any](s, other []T) []T {
	if len(s) == 0 {
		return other
	}
	return s
}

// BatchTensor normalises imgs (each size x size pixels) into an NHWC tensor of padded images,
// those beyond len(imgs) zero, so that a graph compiled for padded images serves fewer.
func BatchTensor(imgs []image.Image, norm imageio.Norm, size, padded int) (*tensors.Tensor, error) {
	if len(imgs) > 0 {
		if sz := imgs[0].Bounds().Size(); sz.X != size || sz.Y != size {
			return nil, fmt.Errorf("batch image is %dx%d, the network takes %dx%d", sz.X, sz.Y, size, size)
		}
	}
	data := make([]float32, padded*size*size*3)
	if _, err := imageio.Tensor(data, imgs, norm); err != nil {
		return nil, err
	}
	return tensors.FromFlatDataAndDimensions(data, padded, size, size, 3), nil
}
