package server

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns the path of a Chromium binary. Without one the test is skipped on a
// developer's machine but fails in CI (CI=true), where `make deps` installs Debian's chromium.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; the browser test needs it in CI (make deps installs Debian's chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); in CI this test fails instead")
	return ""
}

// TestBrowser drives the web page in headless Chromium: it uploads a street photo, waits for the
// garment boxes and the similar-items grid, checks what they show, switches garments, shows an
// error for a broken file and pages the catalog. The screenshot goes to $ATELIER_SCREENSHOT if
// set (e.g. ATELIER_SCREENSHOT=$PWD/docs/screenshot.png), else to the test's temp dir.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
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
	shot := os.Getenv("ATELIER_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "screenshot.png")
	}

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1280, 1000),
	)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	var mu sync.Mutex
	var exceptions []string
	// Listen starts the browser, bound to bctx, which has no deadline: a deadline on the first
	// call would stop the browser with it.
	err := chromedp.Listen(bctx, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := ex.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			exceptions = append(exceptions, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	do(t, ctx, "analysing the photo in the page",
		chromedp.Navigate(e.ts.URL),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="ready"]`)),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{photo}),
		chromedp.WaitVisible(chromedp.CSS("#overlay rect.box")),
		chromedp.WaitVisible(chromedp.CSS("#similar li.item")),
		waitTrue(`[...document.querySelectorAll("#similar img")].every(i => i.complete && i.naturalWidth > 0) && document.querySelector("#photo").complete`),
	)
	png := run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
	viewBox := run(t, ctx, "overlay", chromedp.AttributeValue(chromedp.ID("overlay"), "viewBox")).Value
	boxes := run(t, ctx, "boxes", chromedp.Evaluate[int](`document.querySelectorAll("#overlay rect.box").length`))
	dots := run(t, ctx, "landmarks", chromedp.Evaluate[int](`document.querySelectorAll("#overlay circle.lm").length`))
	garments := run(t, ctx, "garments", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".garment-name")].map(e => e.textContent)`))
	labels := run(t, ctx, "labels", chromedp.Evaluate[[]string](`[...document.querySelectorAll(".box-label")].map(e => e.textContent)`))
	caption := run(t, ctx, "caption", chromedp.Evaluate[string](`document.querySelector("#caption").textContent`))
	matches := run(t, ctx, "matches", chromedp.Evaluate[[]string](matchIDs))
	if !run(t, ctx, "alert", chromedp.Evaluate[bool](`document.querySelector("#alert").hidden`)) {
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
	do(t, ctx, "selecting the second garment",
		chromedp.Click(chromedp.CSS(`.garment[data-i="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#similar .item[data-id="jeans-indigo"]`)),
	)
	matches = run(t, ctx, "matches", chromedp.Evaluate[[]string](matchIDs))
	scores := run(t, ctx, "scores", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#similar .score-value")].map(e => e.textContent)`))
	if len(matches) != 4 || matches[0] != "jeans-indigo" || len(scores) != 4 || scores[0] != "1.000" {
		t.Errorf("similar to the trousers: %q scored %q, want the 4 jeans, jeans-indigo first at 1.000", matches, scores)
	}

	// A broken file is reported in the page.
	do(t, ctx, "uploading a broken file",
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{broken}),
		chromedp.WaitVisible(chromedp.ID("alert")),
	)
	if alert := run(t, ctx, "alert", chromedp.Text(chromedp.ID("alert-text"))); !strings.Contains(alert, "truncated") {
		t.Errorf("alert %q, want the server's message about the truncated image", alert)
	}

	// The catalog view lists every item on one page.
	do(t, ctx, "opening the catalog",
		chromedp.Click(chromedp.ID("tab-catalog")),
		chromedp.WaitVisible(chromedp.CSS("#catalog li.item")),
	)
	items := run(t, ctx, "catalog", chromedp.Evaluate[int](`document.querySelectorAll("#catalog li.item").length`))
	count := run(t, ctx, "catalog count", chromedp.Text(chromedp.ID("catalog-count")))
	nextDisabled := run(t, ctx, "pager", chromedp.Evaluate[bool](`document.querySelector("#next").disabled`))
	if items != len(testCatalog) || !strings.Contains(count, "12 items") || !nextDisabled {
		t.Errorf("catalog: %d items, count %q, next disabled %v", items, count, nextDisabled)
	}

	// An item's neighbours in the catalog are items of its type.
	do(t, ctx, "items like one in the catalog",
		chromedp.Click(chromedp.CSS(`#catalog .item[data-id="jeans-sky"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#catalog-similar li.item")),
	)
	similar := run(t, ctx, "similar", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#catalog-similar .item")].map(e => e.dataset.id)`))
	if len(similar) != 3 || slices.Contains(similar, "jeans-sky") || !strings.HasPrefix(similar[0], "jeans-") {
		t.Errorf("items like jeans-sky: %q, want the 3 other jeans", similar)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("uncaught exceptions in the page: %q", exceptions)
	}
}

// matchIDs lists the item ids of the similar-items grid.
const matchIDs = `[...document.querySelectorAll("#similar .item")].map(e => e.dataset.id)`

// do runs browser steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one browser action and returns its value.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitTrue polls a JavaScript expression until it is true.
func waitTrue(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))
}
