package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atelier-ml/atelier/dataset/synth"
)

func TestSynthCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "data")
	preview := filepath.Join(dir, "sheet.png")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"synth"}, 2},
		{[]string{"synth", "--out", out, "--images", "3"}, 2},
		{[]string{"synth", "--out", out, "--images", "many"}, 2},
		{[]string{"synth", "--out", out, "--images", "12", "--seed", "3", "--preview", preview}, 0},
	} {
		stdout, code := runCLI(t, tc.args...)
		if code != tc.code {
			t.Errorf("atelier %s: exit %d, want %d", strings.Join(tc.args, " "), code, tc.code)
		}
		if code == 0 && !strings.Contains(stdout, "wrote 12 images") {
			t.Errorf("atelier %s printed %q", strings.Join(tc.args, " "), stdout)
		}
	}
	if fi, err := os.Stat(preview); err != nil || fi.Size() == 0 {
		t.Errorf("no contact sheet: %v", err)
	}
	for _, f := range synth.Folders {
		if stdout, code := runCLI(t, "data", "check", "--format", f.Format, filepath.Join(out, f.Name)); code != 0 {
			t.Errorf("data check %s: exit %d\n%s", f.Name, code, stdout)
		}
	}
}
