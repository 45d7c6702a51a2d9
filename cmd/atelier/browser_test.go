package main

import (
	"context"
	"fmt"
	"image/jpeg"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/dataset/synth"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/internal/browser"
	"github.com/chromedp/chromedp"
)

// The browser test's street photo is item 0 of a generator whose seed neither the demo catalog
// (demoSeed) nor `make models` (seeds 1 and 2) uses, so it is new to the model and absent from
// the catalog: a person in a red hoodie and a dotted skirt on a busy street.
const (
	browserPhotoSeed = 3
	browserPhotoW    = 480
	browserPhotoH    = 640
	// browserDemoItems keeps the demo catalog small: indexing it is most of the test's time.
	browserDemoItems = 24
	pageSimilarK     = 12 // SIMILAR_K of web/app.js
)

// TestServeBrowser runs `atelier serve` in-process with the built-in model and a small demo
// catalog, and drives its page in headless Chromium: it uploads a synthetic street photo, waits
// for the garment boxes and the similar-items grid and checks what they show. Then it saves a
// full-page screenshot (browser.Screenshot), which `make screenshot` keeps as docs/screenshot.png.
func TestServeBrowser(t *testing.T) {
	// The browser starts first: without Chromium the test skips (or fails in CI) before serve's
	// costly start.
	ctx, exceptions := browser.Start(t, 1280, 1000, 2*time.Minute)
	dir := t.TempDir()
	photo := filepath.Join(dir, "street.jpg")
	writeStreetPhoto(t, photo)
	url := serveBuiltin(t, filepath.Join(dir, "data"))

	// The caption names the garment count once the analysis is over; the similar-items grid is
	// final once it shows items or stops searching.
	browser.Do(t, ctx, "analysing the photo in the page",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{photo}),
		browser.WaitTrue(`/ garments? · |could not be analysed/.test(document.querySelector("#caption").textContent)`),
		browser.WaitTrue(`document.querySelector("#similar li.item") !== null || !/Searching/.test(document.querySelector("#similar-empty").textContent)`),
		browser.WaitTrue(`[...document.querySelectorAll("#similar img")].every(i => i.complete && i.naturalWidth > 0) && document.querySelector("#photo").complete`),
	)
	caption := browser.Run(t, ctx, "caption", textOf("#caption"))
	if !browser.Run(t, ctx, "alert", chromedp.Evaluate[bool](`document.querySelector("#alert").hidden`)) {
		t.Fatalf("the page shows an error: %q (caption %q)", browser.Run(t, ctx, "alert", textOf("#alert-text")), caption)
	}

	boxes := browser.Run(t, ctx, "boxes", chromedp.Evaluate[int](`document.querySelectorAll("#overlay rect.box").length`))
	labels := browser.Run(t, ctx, "labels", chromedp.Evaluate[int](`document.querySelectorAll(".box-label").length`))
	garments := browser.Run(t, ctx, "garments", chromedp.Evaluate[[]pageGarment](pageGarmentsJS))
	if boxes == 0 {
		t.Fatalf("no garment box on the street photo (caption %q)", caption)
	}
	if labels != boxes || len(garments) != boxes {
		t.Errorf("%d boxes, %d box labels, %d garment cards; want as many of each", boxes, labels, len(garments))
	}
	wantCaption := fmt.Sprintf("%d×%d · %d garment", browserPhotoW, browserPhotoH, boxes)
	if !strings.Contains(caption, wantCaption) {
		t.Errorf("caption %q, want it to contain %q", caption, wantCaption)
	}
	for _, g := range garments {
		if _, ok := fashion.CategoryByName(g.Name); !ok {
			t.Errorf("garment %q is no DeepFashion category", g.Name)
		}
		if _, err := fashion.ParseGarmentType(g.Type); err != nil {
			t.Errorf("garment %s: %v", g.Name, err)
		}
	}

	// The first garment is selected and its similar items shown: demo items of its type,
	// best first.
	title := browser.Run(t, ctx, "similar title", textOf("#similar-title"))
	matches := browser.Run(t, ctx, "matches", chromedp.Evaluate[[]pageMatch](pageMatchesJS))
	if len(matches) == 0 {
		empty := browser.Run(t, ctx, "similar", textOf("#similar-empty"))
		t.Fatalf("no similar item for the %s: %q", garments[0].Name, empty)
	}
	if want := "Similar to the " + strings.ToLower(garments[0].Name); title != want {
		t.Errorf("similar-items title %q, want %q", title, want)
	}
	if len(matches) > pageSimilarK {
		t.Errorf("%d similar items, want at most %d", len(matches), pageSimilarK)
	}
	seen := map[string]bool{}
	prev := 1.0
	for _, m := range matches {
		if !strings.HasPrefix(m.ID, demoPrefix) || seen[m.ID] {
			t.Errorf("similar item %q: want distinct demo items", m.ID)
		}
		seen[m.ID] = true
		if !strings.HasSuffix(m.Meta, " · "+garments[0].Type) {
			t.Errorf("similar item %s is %q, want an item of the selected garment's type %s", m.ID, m.Meta, garments[0].Type)
		}
		score, err := strconv.ParseFloat(m.Score, 64)
		if err != nil || score > prev+1e-3 || score < -1 {
			t.Errorf("similar item %s scored %q after %.3f: want cosine similarities, best first", m.ID, m.Score, prev)
		}
		prev = score
	}
	exceptions.Check(t)
	if t.Failed() {
		return // a screenshot of a failed run must not replace docs/screenshot.png
	}
	browser.Screenshot(t, ctx)
}

// textOf reads the text of the element that selector finds, as written in the page (innerText
// would apply the CSS text-transform).
func textOf(selector string) chromedp.Action[string] {
	return chromedp.Evaluate[string](fmt.Sprintf("document.querySelector(%q).textContent", selector))
}

// pageGarment is what the page shows of one garment.
type pageGarment struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// pageGarmentsJS lists the garment cards: category name and detected type ("upper · detected 87%").
const pageGarmentsJS = `[...document.querySelectorAll("#garments .garment")].map(e => ({
	name: e.querySelector(".garment-name").textContent,
	type: e.querySelector(".garment-type").textContent.split(" · ")[0],
}))`

// pageMatch is what the page shows of one similar item.
type pageMatch struct {
	ID    string `json:"id"`
	Meta  string `json:"meta"`
	Score string `json:"score"`
}

// pageMatchesJS lists the similar-items grid: item id, "Category · type" and score.
const pageMatchesJS = `[...document.querySelectorAll("#similar .item")].map(e => ({
	id: e.dataset.id,
	meta: e.querySelector(".item-meta").textContent,
	score: e.querySelector(".score-value")?.textContent ?? "",
}))`

// writeStreetPhoto renders the browser test's street photo into the JPEG file path, at the
// rough quality the generator gives consumer photos.
func writeStreetPhoto(t *testing.T, path string) {
	t.Helper()
	g := synth.New(browserPhotoSeed)
	r := g.StreetView(g.Item(0), 0, browserPhotoW, browserPhotoH)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(f, r.Image, &jpeg.Options{Quality: r.Quality}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// serveBuiltin runs serve with the built-in model and a demo catalog of browserDemoItems items in
// dataDir until the test ends, and returns its URL once /readyz says ready.
func serveBuiltin(t *testing.T, dataDir string) string {
	t.Helper()
	o := testServeOptions(dataDir)
	o.demoItems = browserDemoItems
	o.timeout = time.Minute // an analysis on two busy cores may take seconds
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, o, newAnalyzer) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	url := "http://" + ln.Addr().String()
	waitReady(t, url, done, 90*time.Second)
	return url
}
