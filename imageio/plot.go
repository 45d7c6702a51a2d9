package imageio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strconv"

	"golang.org/x/image/draw"
)

// Series is one curve of a plot. X may be nil, meaning 0, 1, 2, ...; points whose X or Y is
// NaN or infinite are skipped (a loss that diverged leaves a gap, not a broken plot).
type Series struct {
	Name string
	X, Y []float64
}

func (s Series) x(i int) float64 {
	if s.X == nil {
		return float64(i)
	}
	return s.X[i]
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// The plot's geometry in pixels.
const (
	plotW, plotH                       = 800, 500
	plotLeft, plotRight                = 80, 20
	plotTop, plotBottom                = 30, 40
	plotTicks                          = 6
	plotLineWidth                      = 2
	plotTickLen                        = 5
	plotLegendGap, plotLegendSwatchLen = 6, 20
)

// PlotCurves writes a PNG line plot of the series with a title, axes with ticks and a legend:
// training loops write their loss and metric curves with it next to their checkpoints.
func PlotCurves(w io.Writer, title string, series ...Series) error {
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		if s.X != nil && len(s.X) != len(s.Y) {
			return fmt.Errorf("plot series %q has %d x values and %d y values", s.Name, len(s.X), len(s.Y))
		}
		for i, y := range s.Y {
			if x := s.x(i); finite(x) && finite(y) {
				xmin, xmax = min(xmin, x), max(xmax, x)
				ymin, ymax = min(ymin, y), max(ymax, y)
			}
		}
	}
	if xmin > xmax {
		return errors.New("plot has no finite points")
	}
	xt, xmin, xmax := ticks(xmin, xmax)
	yt, ymin, ymax := ticks(ymin, ymax)

	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	draw.Draw(img, img.Rect, image.White, image.Point{}, draw.Src)
	area := image.Rect(plotLeft, plotTop, plotW-plotRight, plotH-plotBottom)
	px := func(x float64) float64 {
		return float64(area.Min.X) + (x-xmin)/(xmax-xmin)*float64(area.Dx()-1)
	}
	py := func(y float64) float64 {
		return float64(area.Max.Y-1) - (y-ymin)/(ymax-ymin)*float64(area.Dy()-1)
	}
	black, grid := color.RGBA{0, 0, 0, 255}, color.RGBA{225, 225, 225, 255}
	for _, t := range xt {
		x := int(math.Round(px(t)))
		fillRect(img, image.Rect(x, area.Min.Y, x+1, area.Max.Y), grid)
		fillRect(img, image.Rect(x, area.Max.Y, x+1, area.Max.Y+plotTickLen), black)
		s := tickLabel(t)
		sz := LabelSize(s)
		DrawLabel(img, x-sz.X/2, area.Max.Y+plotTickLen, s, black, color.Transparent)
	}
	for _, t := range yt {
		y := int(math.Round(py(t)))
		fillRect(img, image.Rect(area.Min.X, y, area.Max.X, y+1), grid)
		fillRect(img, image.Rect(area.Min.X-plotTickLen, y, area.Min.X, y+1), black)
		s := tickLabel(t)
		sz := LabelSize(s)
		DrawLabel(img, area.Min.X-plotTickLen-sz.X, y-sz.Y/2, s, black, color.Transparent)
	}
	DrawBox(img, [4]float32{float32(area.Min.X), float32(area.Min.Y), float32(area.Max.X - 1), float32(area.Max.Y - 1)}, black, 1)
	DrawLabel(img, (plotW-LabelSize(title).X)/2, (plotTop-LabelSize(title).Y)/2, title, black, color.Transparent)

	for i, s := range series {
		c := ClassColor(i)
		havePrev := false
		var x0, y0 float64
		for j, yv := range s.Y {
			xv := s.x(j)
			if !finite(xv) || !finite(yv) {
				havePrev = false
				continue
			}
			x1, y1 := px(xv), py(yv)
			if havePrev {
				drawLine(img, x0, y0, x1, y1, c)
			} else {
				DrawDot(img, float32(x1), float32(y1), 1, c, true)
			}
			x0, y0, havePrev = x1, y1, true
		}
	}

	// The legend, top-right inside the plot area, one row per named series.
	lx, ly := area.Max.X-plotLegendGap, area.Min.Y+plotLegendGap
	wmax := 0
	for _, s := range series {
		wmax = max(wmax, LabelSize(s.Name).X)
	}
	lx -= wmax + plotLegendSwatchLen + plotLegendGap
	for i, s := range series {
		if s.Name == "" {
			continue
		}
		sz := LabelSize(s.Name)
		fillRect(img, image.Rect(lx, ly+sz.Y/2-1, lx+plotLegendSwatchLen, ly+sz.Y/2+1), ClassColor(i))
		DrawLabel(img, lx+plotLegendSwatchLen+plotLegendGap, ly, s.Name, black, color.White)
		ly += sz.Y
	}
	return EncodePNG(w, img)
}

// drawLine draws a segment plotLineWidth pixels wide by stepping along its longer axis.
func drawLine(img *image.RGBA, x0, y0, x1, y1 float64, c color.Color) {
	n := int(math.Ceil(max(math.Abs(x1-x0), math.Abs(y1-y0)))) + 1
	for i := range n {
		t := float64(i) / float64(max(n-1, 1))
		x := int(math.Round(x0 + t*(x1-x0)))
		y := int(math.Round(y0 + t*(y1-y0)))
		fillRect(img, image.Rect(x, y, x+plotLineWidth, y+plotLineWidth), c)
	}
}

// ticks returns about plotTicks round tick values covering [lo, hi] and the axis range they span.
func ticks(lo, hi float64) ([]float64, float64, float64) {
	if lo == hi {
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	step := niceStep((hi - lo) / (plotTicks - 1))
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	var t []float64
	for v := lo; v <= hi+step/2; v += step {
		t = append(t, math.Round(v/step)*step)
	}
	return t, lo, hi
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func tickLabel(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
