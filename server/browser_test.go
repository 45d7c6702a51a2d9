package server

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/internal/browser"
	"github.com/chromedp/chromedp"
)

// TestBrowser drives the web page in headless Chromium: it uploads a street photo, waits for the
// garment boxes and the similar-items grid, checks what they show, switches garments, shows an
// error for a broken file and pages the catalog. The screenshot goes to $ATELIER_SCREENSHOT if
// set (e.g. ATELIER_SCREENSHOT=$PWD/docs/screenshot.png), else to the test's temp dir.
func TestBrowser(t *testing.T) {
	e := newTestEnv(t, Config{}, nil)
	e.addCatalog(t)
	dir := t.TempDir()
	photo := filepath.Join(dir, "street.png")
	if err := os.WriteFile(photo, encodePNG(t, streetPhoto()), 0o644); err != nil {
		t.Fatal(err)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, streetPhoto(), nil); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.jpg")
	if err := os.WriteFile(broken, jpg.Bytes()[:jpg.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, exceptions := browser.Start(t, 1280, 1000, 90*time.Second)

	browser.Do(t, ctx, "analysing the photo in the page",
		chromedp.Navigate(e.ts.URL),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{photo}),
		chromedp.WaitVisible(chromedp.CSS("#overlay rect.box")),
		chromedp.WaitVisible(chromedp.CSS("#similar li.item")),
		browser.WaitTrue(`[...document.querySelectorAll("#similar img")].every(i => i.complete && i.naturalWidth > 0) && document.querySelector("#photo").complete`),
	)
	browser.Screenshot(t, ctx)
	viewBox := browser.Run(t, ctx, "overlay", chromedp.AttributeValue(chromedp.ID("overlay"), "viewBox")).Value
	boxes := browser.Run(t, ctx, "boxes", chromedp.Evaluate[int](`document.querySelectorAll("#overlay rect.box").length`))
	dots := browser.Run(t, ctx, "landmarks", chromedp.Evaluate[int](`document.querySelectorAll("#overlay circle.lm").length`))
	garments := browser.Run(t, ctx, "garments", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".garment-name")].map(e => e.textContent)`))
	labels := browser.Run(t, ctx, "labels", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".box-label")].map(e => e.textContent)`))
	caption := browser.Run(t, ctx, "caption", chromedp.Evaluate[string](`document.querySelector("#caption").textContent`))
	matches := browser.Run(t, ctx, "matches", chromedp.Evaluate[[]string](matchIDs))
	if !browser.Run(t, ctx, "alert", chromedp.Evaluate[bool](`document.querySelector("#alert").hidden`)) {
		t.Errorf("the page shows an error after a good analysis")
	}
	if viewBox != "0 0 480 640" || boxes != 2 || dots != 10 {
		t.Errorf("overlay: viewBox %q, %d boxes, %d landmarks; want 0 0 480 640, 2 and 6+4", viewBox, boxes, dots)
	}
	if !slices.Equal(garments, []string{"Tee", "Jeans"}) || len(labels) != 2 || !strings.HasPrefix(labels[0], "Tee ") {
		t.Errorf("garments %q, labels %q", garments, labels)
	}
	if !strings.Contains(caption, "480×640") || !strings.Contains(caption, "2 garments") {
		t.Errorf("caption %q", caption)
	}
	if len(matches) != 5 || matches[0] != "tee-crimson" {
		t.Errorf("similar to the red top: %q, want the 5 tees, tee-crimson first", matches)
	}
	for _, id := range matches {
		if !strings.HasPrefix(id, "tee-") {
			t.Errorf("a %s among the matches of a top", id)
		}
	}

	// Selecting the trousers searches again, among trousers.
	browser.Do(t, ctx, "selecting the second garment",
		chromedp.Click(chromedp.CSS(`.garment[data-i="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#similar .item[data-id="jeans-indigo"]`)),
	)
	matches = browser.Run(t, ctx, "matches", chromedp.Evaluate[[]string](matchIDs))
	scores := browser.Run(t, ctx, "scores", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#similar .score-value")].map(e => e.textContent)`))
	if len(matches) != 4 || matches[0] != "jeans-indigo" || len(scores) != 4 || scores[0] != "1.000" {
		t.Errorf("similar to the trousers: %q scored %q, want the 4 jeans, jeans-indigo first at 1.000", matches, scores)
	}

	// A broken file is reported in the page.
	browser.Do(t, ctx, "uploading a broken file",
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{broken}),
		chromedp.WaitVisible(chromedp.ID("alert")),
	)
	if alert := browser.Run(t, ctx, "alert", chromedp.Text(chromedp.ID("alert-text"))); !strings.Contains(alert, "truncated") {
		t.Errorf("alert %q, want the server's message about the truncated image", alert)
	}

	// The catalog view lists every item on one page.
	browser.Do(t, ctx, "opening the catalog",
		chromedp.Click(chromedp.ID("tab-catalog")),
		chromedp.WaitVisible(chromedp.CSS("#catalog li.item")),
	)
	items := browser.Run(t, ctx, "catalog", chromedp.Evaluate[int](`document.querySelectorAll("#catalog li.item").length`))
	count := browser.Run(t, ctx, "catalog count", chromedp.Text(chromedp.ID("catalog-count")))
	nextDisabled := browser.Run(t, ctx, "pager", chromedp.Evaluate[bool](`document.querySelector("#next").disabled`))
	if items != len(testCatalog) || !strings.Contains(count, "12 items") || !nextDisabled {
		t.Errorf("catalog: %d items, count %q, next disabled %v", items, count, nextDisabled)
	}

	// An item's neighbours in the catalog are items of its type.
	browser.Do(t, ctx, "items like one in the catalog",
		chromedp.Click(chromedp.CSS(`#catalog .item[data-id="jeans-sky"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#catalog-similar li.item")),
	)
	similar := browser.Run(t, ctx, "similar", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#catalog-similar .item")].map(e => e.dataset.id)`))
	if len(similar) != 3 || slices.Contains(similar, "jeans-sky") || !strings.HasPrefix(similar[0], "jeans-") {
		t.Errorf("items like jeans-sky: %q, want the 3 other jeans", similar)
	}
	exceptions.Check(t)
}

// matchIDs lists the item ids of the similar-items grid.
const matchIDs = `[...document.querySelectorAll("#similar .item")].map(e => e.dataset.id)`
