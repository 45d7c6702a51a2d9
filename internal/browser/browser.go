// Package browser starts headless Chromium for the tests that drive atelier's web page, and
// wraps chromedp's actions so that a failing step fails the test with what it was doing. Only
// tests use it.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Path returns the path of a Chromium binary. Without one the test is skipped on a developer's
// machine but fails in CI (CI=true), where `make deps` installs Debian's chromium.
func Path(t testing.TB) string {
	t.Helper()
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

// Exceptions collects the uncaught JavaScript exceptions of a tab.
type Exceptions struct {
	mu   sync.Mutex
	list []string
}

// Check fails t if the tab has thrown any uncaught exception.
func (e *Exceptions) Check(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.list) > 0 {
		t.Errorf("uncaught exceptions in the page: %q", e.list)
	}
}

func (e *Exceptions) add(d *runtime.ExceptionDetails) {
	msg := d.Text
	if d.Exception != nil {
		msg += " " + d.Exception.Description
	}
	e.mu.Lock()
	e.list = append(e.list, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
	e.mu.Unlock()
}

// Start starts headless Chromium (see Path) with a w×h window and a fresh profile, and returns
// the context of its first tab, which ends after timeout, and the collector of the tab's
// uncaught exceptions. The browser stops when the test ends.
func Start(t testing.TB, w, h int, timeout time.Duration) (context.Context, *Exceptions) {
	t.Helper()
	exe := Path(t)
	// The profile dir is created first so that its removal, a cleanup too, runs after the
	// browser has stopped writing to it.
	profile := filepath.Join(t.TempDir(), "profile")
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(w, h),
	)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	exceptions := &Exceptions{}
	// Listen starts the browser, bound to bctx, which has no deadline: a deadline on the first
	// call would stop the browser with it.
	err := chromedp.Listen(bctx, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			exceptions.add(ex.ExceptionDetails)
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(cancel)
	return ctx, exceptions
}

// Do runs browser steps, failing the test with what was being done.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Run runs one browser action and returns its value, failing the test with what was being
// done.
func Run[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// WaitTrue polls a JavaScript expression until it is true.
func WaitTrue(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))
}

// Screenshot saves a full-page screenshot of the tab as PNG to $ATELIER_SCREENSHOT if set (e.g.
// `make screenshot` sets it to docs/screenshot.png), else into the test's temp dir.
func Screenshot(t testing.TB, ctx context.Context) {
	t.Helper()
	path := os.Getenv("ATELIER_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "screenshot.png")
	}
	png := Run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("saving the screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}
