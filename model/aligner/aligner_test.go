package aligner

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"

	"github.com/atelier-ml/atelier/dataset"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/nn"
	"github.com/atelier-ml/atelier/train"
)

// TestKMeans clusters noisy copies of three known configurations, some with unlabeled slots:
// every copy must land with its own kind, and the centroids must be the configurations.
func TestKMeans(t *testing.T) {
	var truth [3]Centroid
	for k := range truth {
		for l := range fashion.NumLandmarks {
			truth[k][l] = [2]float32{0.1 + 0.3*float32(k), 0.1*float32(l) + 0.05*float32(k)}
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var shapes []Shape
	var kinds []int
	for i := range 90 {
		k := i % 3
		var s Shape
		for l := range fashion.NumLandmarks {
			s.Points[l] = [2]float32{truth[k][l][0] + float32(rng.NormFloat64())*0.01, truth[k][l][1] + float32(rng.NormFloat64())*0.01}
			s.Labeled[l] = (i+l)%5 != 0 // every shape misses some slots
		}
		shapes = append(shapes, s)
		kinds = append(kinds, k)
	}
	shapes = append(shapes, Shape{}) // nothing labeled: ignored by the fit
	cs, assign, err := KMeans(shapes, 3, 50, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	clusterOf := map[int]int{}
	for i, k := range kinds {
		if c, ok := clusterOf[k]; ok && c != assign[i] {
			t.Fatalf("shape %d of kind %d in cluster %d, others of its kind in %d", i, k, assign[i], c)
		}
		clusterOf[k] = assign[i]
	}
	if len(clusterOf) != 3 || clusterOf[0] == clusterOf[1] || clusterOf[1] == clusterOf[2] || clusterOf[0] == clusterOf[2] {
		t.Fatalf("kinds map to clusters %v; want three distinct", clusterOf)
	}
	for k, c := range clusterOf {
		for l := range fashion.NumLandmarks {
			for j := range 2 {
				if d := math.Abs(float64(cs[c][l][j] - truth[k][l][j])); d > 0.01 {
					t.Errorf("centroid of kind %d slot %d coord %d off by %.3f", k, l, j, d)
				}
			}
		}
	}
	if _, _, err := KMeans(shapes[:2], 3, 10, rng); err == nil {
		t.Error("k-means with fewer shapes than clusters: no error")
	}
}

// toyCrops draws a filled rectangle "garment" at a random place on each pre-crop; its landmarks
// are points on its outline.
func toyCrops(n, size int) *Crops {
	rng := rand.New(rand.NewPCG(5, 6))
	pre := size + size/2
	c := &Crops{Size: size, Margin: 0.1, Norm: imageio.ImageNetNorm}
	for range n {
		img := image.NewRGBA(image.Rect(0, 0, pre, pre))
		draw.Draw(img, img.Rect, image.NewUniform(color.RGBA{220, 220, 220, 255}), image.Point{}, draw.Src)
		x0, y0 := 10+rng.IntN(pre/4), 10+rng.IntN(pre/4)
		w, h := pre/3+rng.IntN(pre/4), pre/3+rng.IntN(pre/4)
		r := image.Rect(x0, y0, x0+w, y0+h)
		draw.Draw(img, r, image.NewUniform(color.RGBA{40, 60, 160, 255}), image.Point{}, draw.Src)
		neck := x0 + w/3 + rng.IntN(w/3)
		draw.Draw(img, image.Rect(neck-2, y0, neck+2, y0+4), image.NewUniform(color.RGBA{250, 250, 0, 255}), image.Point{}, draw.Src)
		var lm [fashion.NumLandmarks]dataset.Point
		at := func(l fashion.Landmark, x, y int) {
			lm[l] = dataset.Point{X: float32(x), Y: float32(y), Labeled: true}
		}
		at(fashion.LeftCollar, neck-2, y0)
		at(fashion.RightCollar, neck+2, y0)
		at(fashion.LeftSleeve, x0, y0+h/3)
		at(fashion.RightSleeve, x0+w-1, y0+h/3)
		at(fashion.LeftHem, x0, y0+h-1)
		at(fashion.RightHem, x0+w-1, y0+h-1)
		box := [4]float32{float32(x0), float32(y0), float32(x0 + w - 1), float32(y0 + h - 1)}
		c.Pre = append(c.Pre, img)
		c.Boxes = append(c.Boxes, box)
		c.Landmarks = append(c.Landmarks, lm)
		c.ToPre = append(c.ToPre, imageio.Identity)
		c.Garments = append(c.Garments, dataset.Garment{Box: box, HasBox: true, Type: fashion.Upper, Landmarks: lm})
		c.Sizes = append(c.Sizes, [2]int{pre, pre})
	}
	return c
}

// TestTinyAlignerTrains trains a tiny cascade a few steps: the loss must go down, and the
// evaluation must report every stage.
func TestTinyAlignerTrains(t *testing.T) {
	backend, err := compute.NewWithConfig("go:ops_sequential") // compute v0.1.2 deadlocks when parallel ops nest large matmuls
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Backbone: nn.BackboneConfig{Arch: nn.ArchPatch, Widths: [4]int{8, 16, 16, 32}, Depths: [4]int{1, 1, 1, 1}, InputSize: 64},
		Hidden:   32, Clusters: 3, Margin: 0.1, Step: 0.15,
	}
	set := toyCrops(32, cfg.InputSize())
	cs, _, err := KMeans(set.Shapes(), cfg.Clusters, 20, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Centroids, set.Centroids, set.Augment = cs, cs, true
	const steps = 30
	store := train.InitStore(1)
	res, err := train.Run(context.Background(), backend, store, ModelFn(cfg), LossFn, set,
		train.Config{BatchSize: 8, Steps: steps, LearningRate: 3e-3, Seed: 1, CurvePoints: steps})
	if err != nil {
		t.Fatal(err)
	}
	curve := res.Curves["loss"]
	mean := func(pts []train.Point) float64 {
		s := 0.0
		for _, p := range pts {
			s += p.Value
		}
		return s / float64(len(pts))
	}
	first, last := mean(curve[:5]), mean(curve[len(curve)-5:])
	t.Logf("loss: first 5 steps %.4f, last 5 steps %.4f", first, last)
	if !(last < 0.8*first) {
		t.Errorf("loss did not decrease enough: first %.4f, last %.4f", first, last)
	}
	al, err := New(backend, store, cfg, set.Norm)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	set.Augment = false
	r, err := al.Evaluate(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.NEByStage) != Stages || r.Count == 0 {
		t.Fatalf("evaluation: %+v", r)
	}
	got, err := al.Align(set.Pre[0], [][4]float32{set.Boxes[0]})
	if err != nil || len(got) != 1 {
		t.Fatalf("Align: %v, %v", got, err)
	}
}
