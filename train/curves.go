package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/atelier-ml/atelier/imageio"
)

// history is what a run keeps next to its checkpoints besides them: the training time so far and
// the curves.
type history struct {
	Seconds float64            `json:"train_seconds"`
	Curves  map[string][]Point `json:"curves"`
}

// readHistory reads what an earlier run wrote in dir; none is not an error.
func readHistory(dir string) (history, error) {
	h := history{Curves: map[string][]Point{}}
	data, err := os.ReadFile(filepath.Join(dir, CurvesJSON))
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("reading curves: %w", err)
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("reading %s: %w", filepath.Join(dir, CurvesJSON), err)
	}
	if h.Curves == nil {
		h.Curves = map[string][]Point{}
	}
	return h, nil
}

// writeHistory writes the history to dir as JSON and the curves as a PNG plot, each through a
// temporary file so that an interrupted write leaves the previous version.
func writeHistory(dir, title string, h history) error {
	curves := h.Curves
	data, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		return fmt.Errorf("encoding curves: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, CurvesJSON), func(f *os.File) error {
		_, err := f.Write(data)
		return err
	}); err != nil {
		return err
	}
	names := make([]string, 0, len(curves))
	for name, pts := range curves {
		if len(pts) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	series := make([]imageio.Series, len(names))
	for i, name := range names {
		s := imageio.Series{Name: name}
		for _, p := range curves[name] {
			s.X = append(s.X, float64(p.Step))
			s.Y = append(s.Y, p.Value)
		}
		series[i] = s
	}
	return writeAtomic(filepath.Join(dir, CurvesPNG), func(f *os.File) error {
		return imageio.PlotCurves(f, title+" (x: step)", series...)
	})
}

func writeAtomic(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	err = write(f)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes it private.
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
