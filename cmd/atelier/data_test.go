package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

// runCLI runs atelier with args and returns stdout and the exit status.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	stdout, _, code := runCLIStderr(t, args...)
	return stdout, code
}

// runCLIStderr is runCLI that also returns what the command wrote on stderr.
func runCLIStderr(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.code
	case isUsageError(err):
		code = 2
	default:
		code = 1
	}
	return out.String(), errOut.String(), code
}

// writeAttrFolder writes a valid three-image Category and Attribute folder with its images.
func writeAttrFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	d := &dataset.Dataset{Vocab: fashion.Vocabulary{Categories: fashion.Categories,
		Attributes: []fashion.Attribute{{ID: 1, Name: "floral print", Type: fashion.Texture}}}}
	for i, c := range []int{3, 26, 41} {
		cat := fashion.Categories[c-1]
		g := dataset.Garment{Category: c, Type: cat.Type, HasBox: true, Box: [4]float32{10, 10, 100, 200}, Attributes: []int8{1}}
		for _, s := range fashion.LandmarkSlots(cat.Type) {
			g.Landmarks[s] = dataset.Point{X: 50, Y: 60, Labeled: true}
		}
		img := "img/" + cat.Name + "/img_0000000" + string(rune('1'+i)) + ".jpg"
		d.Samples = append(d.Samples, dataset.Sample{Image: img, Split: []dataset.Split{dataset.Train, dataset.Val, dataset.Test}[i], Garments: []dataset.Garment{g}})
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, img)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, img), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := dataset.Write(dataset.FormatAttr, dir, d); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDataCheck(t *testing.T) {
	dir := writeAttrFolder(t)
	out, code := runCLI(t, "data", "check", "--format", dataset.FormatAttr, dir, "--json")
	var sum checkSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || code != 0 {
		t.Fatalf("exit %d, output %q: %v", code, out, err)
	}
	want := checkSummary{Format: dataset.FormatAttr, Dir: dir, Samples: 3, Splits: map[string]int{"train": 1, "val": 1, "test": 1},
		Categories: 3, Attributes: 1, Garments: 3, Errors: []dataset.Error{}, Seconds: sum.Seconds}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("summary\n got %+v\nwant %+v", sum, want)
	}
	if out, code := runCLI(t, "data", "check", "--format", dataset.FormatAttr, dir); code != 0 || !strings.Contains(out, "samples     3 (test 1, train 1, val 1)") {
		t.Errorf("exit %d, summary %q", code, out)
	}

	// A defect: exit 2 and the file and line in the JSON errors.
	bbox := filepath.Join(dir, "Anno", "list_bbox.txt")
	data, err := os.ReadFile(bbox)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	lines[3] = strings.Replace(lines[3], "100 200", "005 200", 1)
	if err := os.WriteFile(bbox, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, "data", "check", "--format", dataset.FormatAttr, dir, "--json")
	sum = checkSummary{}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || code != 2 {
		t.Fatalf("exit %d, output %q: %v", code, out, err)
	}
	wantErrs := []dataset.Error{{File: bbox, Line: 4, Message: "box x2 5 <= x1 10"}}
	if !reflect.DeepEqual(sum.Errors, wantErrs) {
		t.Errorf("errors %v, want %v", sum.Errors, wantErrs)
	}

	for _, args := range [][]string{{"data", "check", dir}, {"data", "check", "--format", "mnist", dir}, {"data", "check", "--format", dataset.FormatAttr},
		{"data", "check", "--format", dataset.FormatAttr, filepath.Join(dir, "nowhere")}} {
		if _, code := runCLI(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
