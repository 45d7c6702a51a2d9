package synth

import (
	"bufio"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
)

// The folders that Write makes under its output directory, with their formats.
var Folders = []struct{ Name, Format string }{
	{"attr", dataset.FormatAttr},
	{"inshop", dataset.FormatInShop},
	{"c2s", dataset.FormatC2S},
	{"scenes", dataset.FormatDeepFashion2},
	{"fld", dataset.FormatFLD},
}

// FolderIndex returns the position of the folder named name in Folders, or -1.
func FolderIndex(name string) int {
	return slices.IndexFunc(Folders, func(f struct{ Name, Format string }) bool { return f.Name == name })
}

// Plan divides n images among the folders in Folders order: 40% Category and Attribute, 20%
// In-shop, 15% (at least a pair) Consumer-to-shop, 15% scenes, and the rest (10%) FLD.
func Plan(n int) [5]int {
	p := [5]int{n * 40 / 100, n * 20 / 100, max(n*15/100, 2), n * 15 / 100}
	p[4] = n - p[0] - p[1] - p[2] - p[3]
	return p
}

// Options says what Write renders.
type Options struct {
	// Images is the total number of images, divided among the folders by Plan.
	Images int
	// Only, when set, names the one folder (of Folders) that Write renders, with all the
	// images: more training data for one task without rendering the others.
	Only string
	// Workers renders this many images at once (GOMAXPROCS when 0); the output does not
	// depend on it.
	Workers int
	// Progress, when set, is called (from any goroutine) once per image written.
	Progress func()
}

// job is one image to render and save.
type job struct {
	sample dataset.Sample
	render func() *Rendered
}

// Write renders a whole synthetic dataset under dir, one folder per benchmark format (see
// Folders and Plan), and returns the number of images written. Everything it writes is the same
// for the same seed and options.
func (g *Generator) Write(dir string, o Options) (int, error) {
	plan := Plan(o.Images)
	if o.Only != "" {
		i := FolderIndex(o.Only)
		if i < 0 {
			return 0, fmt.Errorf("no synthetic folder %q (want one of attr, inshop, c2s, scenes, fld)", o.Only)
		}
		plan = [5]int{}
		plan[i] = o.Images
	}
	builders := []func(int) []job{g.attrJobs, g.inShopJobs, g.c2sJobs, g.sceneJobs, g.fldJobs}
	total := 0
	for i, f := range Folders {
		if plan[i] == 0 && o.Only != "" {
			continue
		}
		jobs := builders[i](plan[i])
		root := filepath.Join(dir, f.Name)
		samples, err := runJobs(root, jobs, o)
		if err != nil {
			return total, err
		}
		d := &dataset.Dataset{Format: f.Format, Root: root, Vocab: Vocabulary(), Samples: samples}
		if f.Format == dataset.FormatDeepFashion2 {
			d.Vocab = fashion.Vocabulary{}
		}
		if err := dataset.Write(f.Format, root, d); err != nil {
			return total, err
		}
		total += len(samples)
	}
	return total, nil
}

// runJobs renders and saves the jobs' images in parallel and returns their samples in order.
func runJobs(root string, jobs []job, o Options) ([]dataset.Sample, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	samples := make([]dataset.Sample, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				samples[i], errs[i] = runJob(root, jobs[i])
				if o.Progress != nil {
					o.Progress()
				}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return samples, nil
}

func runJob(root string, j job) (dataset.Sample, error) {
	r := j.render()
	s := j.sample
	b := r.Image.Bounds()
	s.Width, s.Height, s.Garments = b.Dx(), b.Dy(), r.Garments
	p := filepath.Join(root, filepath.FromSlash(s.Image))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return s, err
	}
	f, err := os.Create(p)
	if err != nil {
		return s, err
	}
	w := bufio.NewWriter(f)
	err = jpeg.Encode(w, r.Image, &jpeg.Options{Quality: r.Quality})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s, fmt.Errorf("writing %s: %w", p, err)
	}
	return s, nil
}

// Item number ranges of the folders, so that no item appears in two benchmarks.
const (
	attrItems   = 0
	inShopItems = 1 << 20
	c2sItems    = 2 << 20
	fldItems    = 3 << 20
)

// split draws a partition for unit n of a folder: train, then the others by the given shares.
func (g *Generator) split(folder, n int, val, test float64) dataset.Split {
	x := g.rng(streamSplit, folder, n).Float64()
	switch {
	case x < test:
		return dataset.Test
	case x < test+val:
		return dataset.Val
	}
	return dataset.Train
}

// productName is a DeepFashion-style image folder name such as "Floral_Chiffon_Blouse".
func productName(it *Item) string {
	var words []string
	if it.Pattern != Solid {
		words = append(words, it.Pattern.String())
	}
	if it.Fabric != Cotton {
		words = append(words, it.Fabric.String())
	}
	words = append(words, it.Kind.Category.Name)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.ReplaceAll(strings.Join(words, "_"), " ", "_")
}

// attrJobs: items with 1-3 photos each, half shop and half street, about 300 px high and
// 200-300 px wide; train/val/test by item (70/15/15).
func (g *Generator) attrJobs(n int) []job {
	var jobs []job
	for k := 0; len(jobs) < n; k++ {
		it := g.Item(attrItems + k)
		r := g.rng(streamSplit, 10, k)
		split := g.split(0, k, 0.15, 0.15)
		for v := range 1 + r.IntN(3) {
			if len(jobs) == n {
				break
			}
			w, h := 200+20*r.IntN(6), 300
			street, pose := chance(r, 0.5), ShopPoses[pick(r, 40, 15, 15, 15, 15)]
			jobs = append(jobs, job{
				sample: dataset.Sample{Image: fmt.Sprintf("img/%s/img_%08d.jpg", productName(it), len(jobs)+1), Split: split},
				render: func() *Rendered {
					if street {
						return g.StreetView(it, v, w, h)
					}
					return g.ShopView(it, pose, v, w, h)
				},
			})
		}
	}
	return jobs
}

var poseNames = map[int]string{PoseFront: "front", PoseSide: "side", PoseFull: "full", PoseZoom: "additional", PoseFlat: "flat"}

// poseVariation is the In-shop variation_type of a pose.
var poseVariation = map[int]int{PoseFront: 1, PoseSide: 2, PoseFull: 1, PoseZoom: 4, PoseFlat: 1}

// inShopJobs: items with 3-5 shop photos (256 x 256); half the items train, the other half
// split their photos between query and gallery, so query and gallery items never appear in
// training.
func (g *Generator) inShopJobs(n int) []job {
	var jobs []job
	for k := 0; len(jobs) < n; k++ {
		it := g.Item(inShopItems + k)
		r := g.rng(streamSplit, 11, k)
		train := g.split(1, k, 0, 0.5) == dataset.Train
		gender := "WOMEN"
		if name := it.Kind.Category.Name; name != "Dress" && name != "Skirt" && name != "Blouse" && name != "Romper" && name != "Leggings" && chance(r, 0.35) {
			gender = "MEN"
		}
		views := min(3+r.IntN(3), n-len(jobs))
		if views < 2 && !train { // a test item needs a query and a gallery photo
			views, train = 1, true
		}
		for v := range views {
			pose := PoseFront
			if v > 0 {
				pose = ShopPoses[1+r.IntN(len(ShopPoses)-1)]
			}
			split := dataset.Train
			if !train {
				split = dataset.Gallery
				if v%2 == 1 {
					split = dataset.Query
				}
			}
			jobs = append(jobs, job{
				sample: dataset.Sample{Image: fmt.Sprintf("img/%s/%s/%s/%02d_%d_%s.jpg", gender, it.Kind.ShopGroup, it.ID, v+1, pose, poseNames[pose]), Split: split, Source: dataset.SourceShop},
				render: func() *Rendered {
					out := g.ShopView(it, pose, v, 256, 256)
					out.Garments[0].Variation = poseVariation[pose]
					return out
				},
			})
		}
	}
	return jobs
}

// c2sGroup is the Consumer-to-shop top folder of a garment type.
var c2sGroup = map[fashion.GarmentType]string{fashion.Upper: "TOPS", fashion.Lower: "TROUSERS", fashion.Full: "DRESSES"}

// c2sJobs: items with one shop photo and 1-3 consumer photos (300 x 300); train/val/test by
// item (60/20/20).
func (g *Generator) c2sJobs(n int) []job {
	var jobs []job
	for k := 0; n-len(jobs) >= 2; k++ {
		it := g.Item(c2sItems + k)
		r := g.rng(streamSplit, 12, k)
		split := g.split(2, k, 0.2, 0.2)
		dir := fmt.Sprintf("img/%s/%s/%s", c2sGroup[it.Kind.Type], it.Kind.Category.Name, it.ID)
		jobs = append(jobs, job{
			sample: dataset.Sample{Image: dir + "/shop_01.jpg", Split: split, Source: dataset.SourceShop},
			render: func() *Rendered { return g.ShopView(it, PoseFront, 0, 300, 300) },
		})
		rest := n - len(jobs)
		consumers := min(1+r.IntN(3), rest)
		if rest-consumers == 1 { // no photo left over without a pair
			consumers++
		}
		for v := range consumers {
			// "comsumer" is how the real release spells it.
			jobs = append(jobs, job{
				sample: dataset.Sample{Image: fmt.Sprintf("%s/comsumer_%02d.jpg", dir, v+1), Split: split, Source: dataset.SourceConsumer},
				render: func() *Rendered { return g.StreetView(it, v, 300, 300) },
			})
		}
	}
	return jobs
}

// sceneJobs: DeepFashion2 pairs of one shop photo and 1-3 street photos (300 x 300); pairs
// train or validation (80/20).
func (g *Generator) sceneJobs(n int) []job {
	var jobs []job
	for p := 0; len(jobs) < n; p++ {
		r := g.rng(streamSplit, 13, p)
		split, dir := dataset.Train, "train"
		if g.split(3, p, 0.2, 0) == dataset.Val {
			split, dir = dataset.Val, "validation"
		}
		for img := range min(2+r.IntN(3), n-len(jobs)) {
			src := dataset.SourceConsumer
			if img == 0 {
				src = dataset.SourceShop
			}
			jobs = append(jobs, job{
				sample: dataset.Sample{Image: fmt.Sprintf("%s/image/%06d.jpg", dir, len(jobs)+1), Split: split, Source: src, PairID: p + 1},
				render: func() *Rendered {
					out := g.Scene(p, img, 300, 300)
					for i := range out.Garments {
						if gm := &out.Garments[i]; gm.Style > 0 {
							gm.ItemID = fmt.Sprintf("%d/%d", p+1, gm.Style)
						}
					}
					return out
				},
			})
		}
	}
	return jobs
}

// fldJobs: one photo per item with a variation type drawn 35/20/15/15/15 over 1..5 (300 x 300);
// train/val/test 70/15/15.
func (g *Generator) fldJobs(n int) []job {
	jobs := make([]job, n)
	for k := range jobs {
		it := g.Item(fldItems + k)
		variation := 1 + pick(g.rng(streamSplit, 14, k), 35, 20, 15, 15, 15)
		jobs[k] = job{
			sample: dataset.Sample{Image: fmt.Sprintf("img/img_%08d.jpg", k+1), Split: g.split(4, k, 0.15, 0.15)},
			render: func() *Rendered { return g.LandmarkView(it, variation, 0, 300, 300) },
		}
	}
	return jobs
}
