// Package web is atelier's web page: static HTML, CSS and JavaScript embedded in the binary,
// with no build step and no external assets, served at the root of the HTTP service. The page
// talks to the v1 API only.
package web

import (
	"embed"
	"net/http"
)

// files are the page and its assets; only they are served.
//
//go:embed index.html app.css app.js
var files embed.FS

// Handler serves the page at "/" and its assets next to it. Everything it serves comes from
// this server, which the Content-Security-Policy enforces.
func Handler() http.Handler {
	fs := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The files change with the binary; revalidating is cheap and avoids stale pages.
		h.Set("Cache-Control", "no-cache")
		fs.ServeHTTP(w, r)
	})
}
