package nn

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// CheckpointFile is the name of the variables file inside a network's checkpoint directory.
const CheckpointFile = "variables.gob"

// checkpointVersion is written first so that formats can be told apart. Version 1 stored each
// tensor as a gob-encoded slice, about 6 bytes a float32; version 2 stores its shape and then its
// raw bytes (in the machine's byte order: little-endian on every platform GoMLX runs on), 4 bytes
// a float32. Both are read.
const checkpointVersion = 2

// SaveCheckpoint writes the variables of store under the given scopes (e.g. "/backbone"; at least
// one) to dir/CheckpointFile, creating dir. It is meant for inference: pass the scopes of the
// network, which leaves out the optimizer state and the global step. The file is written to a
// temporary name and renamed, so a crash never leaves a truncated checkpoint.
func SaveCheckpoint(store *model.Store, dir string, scopes ...string) (err error) {
	if len(scopes) == 0 {
		return errors.New("nn.SaveCheckpoint: no scope given")
	}
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if inScopes(v.Path(), scopes) {
			vars = append(vars, v)
		}
	}
	if len(vars) == 0 {
		return fmt.Errorf("saving checkpoint to %s: no variables under %s", dir, strings.Join(scopes, ", "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	final := filepath.Join(dir, CheckpointFile)
	f, err := os.CreateTemp(dir, CheckpointFile+".tmp*")
	if err != nil {
		return fmt.Errorf("saving checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriter(f)
	enc := gob.NewEncoder(w)
	if err := enc.Encode(checkpointVersion); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	if err := enc.Encode(len(vars)); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	for _, v := range vars {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("writing %s: variable %s: %w", final, v.Path(), err)
		}
		if err := enc.Encode(v.Path()); err != nil {
			return fmt.Errorf("writing %s: %w", final, err)
		}
		if err := t.Shape().GobSerialize(enc); err != nil {
			return fmt.Errorf("writing %s: variable %s: %w", final, v.Path(), err)
		}
		var encErr error
		if err := t.ConstBytes(func(data []byte) { encErr = enc.Encode(data) }); err != nil || encErr != nil {
			return fmt.Errorf("writing %s: variable %s: %w", final, v.Path(), errors.Join(err, encErr))
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	return nil
}

// LoadCheckpoint reads dir/CheckpointFile from fsys (os.DirFS for a directory on disk, an embed.FS
// for a bundled model) into store, creating or replacing the variables it holds. Variables that
// already exist must have the same shape.
func LoadCheckpoint(store *model.Store, fsys fs.FS, dir string) error {
	name := path.Join(dir, CheckpointFile)
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("loading checkpoint: %w", err)
	}
	defer func() { _ = f.Close() }()
	dec := gob.NewDecoder(bufio.NewReader(f))
	var version, n int
	if err := dec.Decode(&version); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if version < 1 || version > checkpointVersion {
		return fmt.Errorf("reading %s: checkpoint format %d, want 1 to %d", name, version, checkpointVersion)
	}
	read := readTensor
	if version == 1 {
		read = tensors.GobDeserialize
	}
	if err := dec.Decode(&n); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	for i := range n {
		var p string
		if err := dec.Decode(&p); err != nil {
			return fmt.Errorf("reading %s: variable %d of %d: %w", name, i+1, n, err)
		}
		t, err := read(dec)
		if err != nil {
			return fmt.Errorf("reading %s: variable %s: %w", name, p, err)
		}
		if v := store.GetVariable(p); v != nil {
			if !v.Shape().Equal(t.Shape()) {
				return fmt.Errorf("reading %s: variable %s has shape %s, the model wants %s", name, p, t.Shape(), v.Shape())
			}
			if err := v.SetValue(t); err != nil {
				return fmt.Errorf("reading %s: variable %s: %w", name, p, err)
			}
			continue
		}
		if _, err := store.CreateVariable(p, t); err != nil {
			return fmt.Errorf("reading %s: variable %s: %w", name, p, err)
		}
	}
	return nil
}

// readTensor reads a tensor of format 2: its shape, then its raw bytes.
func readTensor(dec *gob.Decoder) (*tensors.Tensor, error) {
	shape, err := shapes.GobDeserialize(dec)
	if err != nil {
		return nil, err
	}
	if !shape.Ok() {
		return nil, fmt.Errorf("invalid shape %s", shape)
	}
	var data []byte
	if err := dec.Decode(&data); err != nil {
		return nil, err
	}
	if int64(len(data)) != shape.ByteSize() {
		return nil, fmt.Errorf("%d bytes for a tensor of shape %s, want %d", len(data), shape, shape.ByteSize())
	}
	t := tensors.FromShape(shape)
	if err := t.MutableBytes(func(dst []byte) { copy(dst, data) }); err != nil {
		return nil, err
	}
	return t, nil
}

// inScopes reports whether the variable path lies under one of the scopes.
func inScopes(p string, scopes []string) bool {
	for _, s := range scopes {
		s = "/" + strings.Trim(s, "/")
		if s == "/" || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}
