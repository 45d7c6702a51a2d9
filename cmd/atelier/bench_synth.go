package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // the synthetic photos are JPEG
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/dataset/synth"
)

func init() {
	registerBenchmark("synth", "render a synthetic dataset of 2,000 images in every format and time it (goal: under 60 s on 2 cores) [--images N --seed S --keep DIR]", benchSynth)
	registerBenchmark("synth-baselines", "difficulty of synthetic data: trivial baselines on its test splits (goals: in-shop top-1 of mean-colour nearest neighbour < 0.5, majority-class category accuracy < 0.2) [--images N --seed S --data DIR]", benchSynthBaselines)
}

// synthFlags parses the flags the synth benchmarks share.
func synthFlags(name string, args []string, dirFlag, dirHelp string) (images int, seed uint64, dir string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&images, "images", 2000, "images to render")
	fs.Uint64Var(&seed, "seed", 1, "random seed")
	fs.StringVar(&dir, dirFlag, "", dirHelp)
	if err := fs.Parse(args); err != nil {
		return 0, 0, "", badInputf("bench %s: %v", name, err)
	}
	if images < 10 {
		return 0, 0, "", badInputf("bench %s: --images must be at least 10", name)
	}
	return images, seed, dir, nil
}

// synthBenchResult is what the synth benchmark prints.
type synthBenchResult struct {
	Images       int     `json:"images"`
	Seconds      float64 `json:"seconds"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	ImagesPerSec float64 `json:"images_per_second"`
	CPUs         int     `json:"cpus"`
	GoalSeconds  float64 `json:"goal_seconds"`
	GoalMet      bool    `json:"goal_met"`
}

func benchSynth(ctx context.Context, args []string, progress io.Writer) (any, error) {
	images, seed, dir, err := synthFlags("synth", args, "keep", "write the dataset here and keep it (default: a temporary folder, removed)")
	if err != nil {
		return nil, err
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "atelier-synth-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	n, err := writeSynth(synth.New(seed), dir, synth.Options{Images: images}, progress)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	// The goal is 2,000 images in 60 s; other sizes are held to the same rate.
	goal := 60 * float64(n) / 2000
	return synthBenchResult{Images: n, Seconds: secs, CPUSeconds: cpuSeconds() - cpu0, ImagesPerSec: float64(n) / secs, CPUs: runtime.NumCPU(),
		GoalSeconds: goal, GoalMet: secs < goal}, nil
}

// cpuSeconds is the user and system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// baselineResult is what the synth-baselines benchmark prints.
type baselineResult struct {
	Images           int     `json:"images_rendered,omitempty"`
	InShopQueries    int     `json:"inshop_queries"`
	InShopGallery    int     `json:"inshop_gallery"`
	InShopColourTop1 float64 `json:"inshop_mean_colour_top1"`
	InShopChanceTop1 float64 `json:"inshop_chance_top1"`
	C2SQueries       int     `json:"c2s_queries"`
	C2SColourTop1    float64 `json:"c2s_mean_colour_top1"`
	CategoryTest     int     `json:"category_test_images"`
	MajorityClass    string  `json:"majority_class"`
	MajorityAccuracy float64 `json:"majority_class_accuracy"`
	RetrievalGoal    float64 `json:"inshop_top1_goal_below"`
	CategoryGoal     float64 `json:"majority_accuracy_goal_below"`
	GoalsMet         bool    `json:"goals_met"`
}

func benchSynthBaselines(ctx context.Context, args []string, progress io.Writer) (any, error) {
	images, seed, dir, err := synthFlags("synth-baselines", args, "data", "use the synthetic dataset already in this folder instead of rendering one")
	if err != nil {
		return nil, err
	}
	res := baselineResult{RetrievalGoal: 0.5, CategoryGoal: 0.2}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "atelier-synth-baselines-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
		if res.Images, err = writeSynth(synth.New(seed), dir, synth.Options{Images: images}, progress); err != nil {
			return nil, err
		}
	}

	inshop, err := dataset.Load(dataset.FormatInShop, filepath.Join(dir, "inshop"))
	if err != nil {
		return nil, err
	}
	var queries, gallery []*dataset.Sample
	for i := range inshop.Samples {
		switch s := &inshop.Samples[i]; s.Split {
		case dataset.Query:
			queries = append(queries, s)
		case dataset.Gallery:
			gallery = append(gallery, s)
		}
	}
	res.InShopQueries, res.InShopGallery = len(queries), len(gallery)
	if res.InShopColourTop1, err = colourTop1(inshop.Root, queries, gallery); err != nil {
		return nil, err
	}
	items := map[string]bool{}
	for _, s := range gallery {
		items[s.Garments[0].ItemID] = true
	}
	if len(items) > 0 {
		res.InShopChanceTop1 = 1 / float64(len(items))
	}

	c2s, err := dataset.Load(dataset.FormatC2S, filepath.Join(dir, "c2s"))
	if err != nil {
		return nil, err
	}
	queries, gallery = nil, nil
	for i := range c2s.Samples {
		if s := &c2s.Samples[i]; s.Split == dataset.Test {
			if s.Source == dataset.SourceConsumer {
				queries = append(queries, s)
			} else {
				gallery = append(gallery, s)
			}
		}
	}
	res.C2SQueries = len(queries)
	if res.C2SColourTop1, err = colourTop1(c2s.Root, queries, gallery); err != nil {
		return nil, err
	}

	attr, err := dataset.Load(dataset.FormatAttr, filepath.Join(dir, "attr"))
	if err != nil {
		return nil, err
	}
	counts := map[int]int{}
	for _, s := range attr.Samples {
		if s.Split == dataset.Train {
			counts[s.Garments[0].Category]++
		}
	}
	majority := 0
	for c, n := range counts {
		if n > counts[majority] || n == counts[majority] && c < majority {
			majority = c
		}
	}
	if c, ok := attr.Vocab.Category(majority); ok {
		res.MajorityClass = c.Name
	}
	hits := 0
	for _, s := range attr.Samples {
		if s.Split == dataset.Test {
			res.CategoryTest++
			if s.Garments[0].Category == majority {
				hits++
			}
		}
	}
	if res.CategoryTest > 0 {
		res.MajorityAccuracy = float64(hits) / float64(res.CategoryTest)
	}
	res.GoalsMet = res.InShopColourTop1 < res.RetrievalGoal && res.MajorityAccuracy < res.CategoryGoal
	return res, nil
}

// colourTop1 is the top-1 accuracy of retrieving, for each query photo, the gallery photo with the
// nearest mean colour: a hit when it shows the same item.
func colourTop1(root string, queries, gallery []*dataset.Sample) (float64, error) {
	if len(queries) == 0 || len(gallery) == 0 {
		return 0, fmt.Errorf("no queries or no gallery under %s", root)
	}
	mean := func(s *dataset.Sample) ([3]float64, error) {
		var m [3]float64
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(s.Image)))
		if err != nil {
			return m, err
		}
		defer f.Close()
		img, _, err := image.Decode(f)
		if err != nil {
			return m, fmt.Errorf("decoding %s: %w", s.Image, err)
		}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				m[0], m[1], m[2] = m[0]+float64(r), m[1]+float64(g), m[2]+float64(bl)
			}
		}
		n := float64(b.Dx() * b.Dy() * 257)
		return [3]float64{m[0] / n, m[1] / n, m[2] / n}, nil
	}
	gm := make([][3]float64, len(gallery))
	for i, s := range gallery {
		var err error
		if gm[i], err = mean(s); err != nil {
			return 0, err
		}
	}
	hits := 0
	for _, q := range queries {
		qm, err := mean(q)
		if err != nil {
			return 0, err
		}
		best, bestD := -1, 0.0
		for i, g := range gm {
			d := (qm[0]-g[0])*(qm[0]-g[0]) + (qm[1]-g[1])*(qm[1]-g[1]) + (qm[2]-g[2])*(qm[2]-g[2])
			if best < 0 || d < bestD {
				best, bestD = i, d
			}
		}
		if gallery[best].Garments[0].ItemID == q.Garments[0].ItemID {
			hits++
		}
	}
	return float64(hits) / float64(len(queries)), nil
}
