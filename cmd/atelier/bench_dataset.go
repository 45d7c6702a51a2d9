package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

func init() {
	registerBenchmark("read-attr", "write a Category and Attribute benchmark of 289,222 rows x 1000 attributes, then time and measure the peak memory of \"data check\" on it [--rows N --attrs N --keep DIR]", benchReadAttr)
}

// readAttrResult is what the read-attr benchmark prints.
type readAttrResult struct {
	Rows            int     `json:"rows"`
	Attributes      int     `json:"attributes"`
	AttrImgMB       float64 `json:"list_attr_img_mb"`
	WriteSeconds    float64 `json:"write_seconds"`
	ReadSeconds     float64 `json:"read_seconds"`
	ReadCPUSeconds  float64 `json:"read_cpu_seconds"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	SamplesRead     int     `json:"samples_read"`
	ReaderCommand   string  `json:"reader_command"`
	ReadLimitSecond float64 `json:"read_limit_seconds"`
	PeakLimitMB     float64 `json:"peak_limit_mb"`
}

func benchReadAttr(ctx context.Context, args []string, progress io.Writer) (any, error) {
	fs := flag.NewFlagSet("read-attr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rows := fs.Int("rows", 289222, "image rows (the real benchmark has 289,222)")
	attrs := fs.Int("attrs", 1000, "attribute columns (the real benchmark has 1000)")
	keep := fs.String("keep", "", "write the folder here and keep it (default: a temporary folder, removed)")
	if err := fs.Parse(args); err != nil {
		return nil, badInputf("bench read-attr: %v", err)
	}
	if *rows < 1 || *attrs < 1 {
		return nil, badInputf("bench read-attr: --rows and --attrs must be positive")
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "atelier-read-attr-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	res := readAttrResult{Rows: *rows, Attributes: *attrs, ReadLimitSecond: 15, PeakLimitMB: 500}

	fmt.Fprintf(progress, "writing %d x %d attribute rows to %s\n", *rows, *attrs, dir)
	start := time.Now()
	if err := dataset.Write(dataset.FormatAttr, dir, benchAttrDataset(*rows, *attrs)); err != nil {
		return nil, err
	}
	res.WriteSeconds = time.Since(start).Seconds()
	if fi, err := os.Stat(filepath.Join(dir, "Anno", "list_attr_img.txt")); err == nil {
		res.AttrImgMB = float64(fi.Size()) / 1e6
	}

	// The reader runs in its own process so that its peak resident memory is its own.
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "data", "check", "--format", dataset.FormatAttr, "--skip-images", "--json", dir)
	res.ReaderCommand = "atelier data check --format deepfashion-attr --skip-images --json DIR"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, progress
	fmt.Fprintf(progress, "reading with: %s\n", res.ReaderCommand)
	start = time.Now()
	err = cmd.Run()
	res.ReadSeconds = time.Since(start).Seconds()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", res.ReaderCommand, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSSMB = float64(ru.Maxrss) * 1024 / 1e6 // Linux reports kilobytes
		// CPU time says how fast the reader is when other processes share the cores.
		res.ReadCPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	var sum checkSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		return nil, fmt.Errorf("reading the summary of %s: %w", res.ReaderCommand, err)
	}
	if res.SamplesRead = sum.Samples; sum.Samples != *rows || sum.Attributes != *attrs {
		return nil, fmt.Errorf("the reader found %d samples and %d attributes, want %d and %d", sum.Samples, sum.Attributes, *rows, *attrs)
	}
	return res, nil
}

// benchAttrDataset makes rows samples in memory cheaply: the attribute rows are drawn from a few
// shared patterns, so only the written file has the full size.
func benchAttrDataset(rows, attrs int) *dataset.Dataset {
	d := &dataset.Dataset{Format: dataset.FormatAttr, Vocab: fashion.DefaultVocabulary()}
	for a := range attrs {
		d.Vocab.Attributes = append(d.Vocab.Attributes, fashion.Attribute{ID: a + 1,
			Name: fmt.Sprintf("attribute number %d", a+1), Type: fashion.AttributeTypes[a%len(fashion.AttributeTypes)]})
	}
	patterns := make([][]int8, 16)
	for p := range patterns {
		patterns[p] = make([]int8, attrs)
		for a := range patterns[p] {
			patterns[p][a] = int8((a*7+p*13)%23%3) - 1
		}
	}
	splits := []dataset.Split{dataset.Train, dataset.Train, dataset.Train, dataset.Val, dataset.Test}
	d.Samples = make([]dataset.Sample, rows)
	for i := range d.Samples {
		c := fashion.Categories[i%len(fashion.Categories)]
		g := dataset.Garment{Category: c.ID, Type: c.Type, HasBox: true,
			Box: [4]float32{float32(i % 50), float32(i % 70), float32(100 + i%100), float32(150 + i%90)}, Attributes: patterns[i%len(patterns)]}
		for k, s := range fashion.LandmarkSlots(c.Type) {
			g.Landmarks[s] = dataset.Point{X: float32(60 + 10*k), Y: float32(80 + 12*k), Vis: dataset.Visibility(k % 3), Labeled: true}
		}
		d.Samples[i] = dataset.Sample{Image: fmt.Sprintf("img/Sheer_Pleated-Front_%s/img_%08d.jpg", c.Name, i+1),
			Split: splits[i%len(splits)], Garments: []dataset.Garment{g}}
	}
	return d
}
