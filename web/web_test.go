package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

// TestAssets checks that the page is served and that every local asset it references is too,
// with the security headers.
func TestAssets(t *testing.T) {
	page := get(t, "/")
	if page.Code != http.StatusOK || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", page.Code, page.Header().Get("Content-Type"))
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page.Body.String(), -1)
	assets := 0
	for _, m := range refs {
		ref := m[1]
		if strings.Contains(ref, "://") {
			t.Errorf("the page loads an external asset %s", ref)
		}
		if ref == "/" || strings.HasPrefix(ref, "/metrics") {
			continue
		}
		assets++
		if rec := get(t, "/"+strings.TrimPrefix(ref, "/")); rec.Code != http.StatusOK {
			t.Errorf("asset %s: %d", ref, rec.Code)
		}
	}
	if assets < 2 {
		t.Errorf("found %d assets in the page, want the stylesheet and the script", assets)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
		if page.Header().Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if rec := get(t, "/web.go"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /web.go: %d, want 404 (only the page's files are served)", rec.Code)
	}
}
