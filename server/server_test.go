package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/index"
)

// apiErr is the JSON error document.
type apiErr struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

func TestAPI(t *testing.T) {
	e := newTestEnv(t, Config{}, nil)
	photo := encodePNG(t, streetPhoto())

	t.Run("health", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, _, data := e.do(t, "GET", path, "", nil); code != http.StatusOK {
				t.Errorf("GET %s: %d %s", path, code, data)
			}
		}
	})

	t.Run("page", func(t *testing.T) {
		for _, c := range []struct{ path, ctype, want string }{
			{"/", "text/html", `<script src="app.js"`},
			{"/app.js", "text/javascript", "/v1/analyze"},
			{"/app.css", "text/css", "--accent"},
		} {
			code, h, data := e.do(t, "GET", c.path, "", nil)
			if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), c.ctype) || !bytes.Contains(data, []byte(c.want)) {
				t.Errorf("GET %s: %d %s, want 200 %s containing %q", c.path, code, h.Get("Content-Type"), c.ctype, c.want)
			}
			if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("GET %s: no CSP (%q)", c.path, h.Get("Content-Security-Policy"))
			}
		}
	})

	t.Run("analyze", func(t *testing.T) {
		raw := func() (string, *bytes.Reader) { return "image/png", bytes.NewReader(photo) }
		form := func() (string, *bytes.Reader) {
			body, ct := multipartBody(t, photo, nil)
			var buf bytes.Buffer
			buf.ReadFrom(body)
			return ct, bytes.NewReader(buf.Bytes())
		}
		for name, mk := range map[string]func() (string, *bytes.Reader){"raw": raw, "multipart": form} {
			ct, body := mk()
			code, _, data := e.do(t, "POST", "/v1/analyze", ct, body)
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", name, code, data)
			}
			res := decodeJSON[analyze.Result](t, data)
			if res.Width != 480 || res.Height != 640 || len(res.Garments) != 2 {
				t.Fatalf("%s: got %dx%d with %d garments, want 480x640 with 2", name, res.Width, res.Height, len(res.Garments))
			}
			top, bottom := res.Garments[0], res.Garments[1]
			if top.Type != "upper" || bottom.Type != "lower" || top.Box[1] >= bottom.Box[1] {
				t.Errorf("%s: garments %+v and %+v, want the upper one above the lower one", name, top.Box, bottom.Box)
			}
			if len(top.Landmarks) != 6 || len(top.Embedding) != 4 || res.Timings["decode"] <= 0 {
				t.Errorf("%s: %d landmarks, %d-d embedding, timings %v", name, len(top.Landmarks), len(top.Embedding), res.Timings)
			}
		}
	})

	t.Run("add items", func(t *testing.T) {
		e.addCatalog(t)
		magenta := color.RGBA{230, 80, 150, 255}
		body, ct := multipartBody(t, encodePNG(t, shopPhoto(magenta, fashion.Upper)), map[string]string{"name": "Unnamed", "meta.shop": "north"})
		code, h, data := e.do(t, "POST", "/v1/items", ct, body)
		if code != http.StatusCreated {
			t.Fatalf("%d %s", code, data)
		}
		got := decodeJSON[addItemResponse](t, data)
		if !strings.HasPrefix(got.Item.ID, "item-") || got.Item.Type != "upper" || got.Item.Category != "Tee" || got.Item.Meta["shop"] != "north" {
			t.Errorf("item %+v: want a generated id, the predicted type and category, and the meta field", got.Item)
		}
		if h.Get("Location") != "/v1/items/"+got.Item.ID {
			t.Errorf("Location %q", h.Get("Location"))
		}
		n, err := e.idx.Len(context.Background())
		if err != nil || n != len(testCatalog)+1 {
			t.Errorf("index holds %d items (%v), want %d", n, err, len(testCatalog)+1)
		}
	})

	t.Run("get item and its image", func(t *testing.T) {
		code, _, data := e.do(t, "GET", "/v1/items/jeans-indigo", "", nil)
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, data)
		}
		it := decodeJSON[itemView](t, data)
		if it.Name != "Indigo jeans" || it.Type != "lower" || it.ImageURL != "/v1/items/jeans-indigo/image" {
			t.Errorf("got %+v", it)
		}
		code, h, img := e.do(t, "GET", it.ImageURL, "", nil)
		want := encodePNG(t, shopPhoto(testCatalog[5].c, testCatalog[5].typ))
		if code != http.StatusOK || h.Get("Content-Type") != "image/png" || !bytes.Equal(img, want) {
			t.Errorf("image: %d %s, %d bytes (want %d)", code, h.Get("Content-Type"), len(img), len(want))
		}
	})

	t.Run("list items", func(t *testing.T) {
		seen := map[string]bool{}
		for offset := 0; ; offset += 5 {
			code, _, data := e.do(t, "GET", "/v1/items?limit=5&offset="+strconv.Itoa(offset), "", nil)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, data)
			}
			page := decodeJSON[listResponse](t, data)
			if page.Total == nil || *page.Total != len(testCatalog)+1 {
				t.Fatalf("total %v", page.Total)
			}
			for _, it := range page.Items {
				seen[it.ID] = true
			}
			if !page.HasMore {
				break
			}
		}
		if len(seen) != len(testCatalog)+1 {
			t.Errorf("paging saw %d distinct items, want %d", len(seen), len(testCatalog)+1)
		}
		code, _, data := e.do(t, "GET", "/v1/items?type=full", "", nil)
		page := decodeJSON[listResponse](t, data)
		if code != http.StatusOK || len(page.Items) != 3 || page.Total != nil {
			t.Errorf("type=full: %d, %d items, total %v; want 3 dresses and no total", code, len(page.Items), page.Total)
		}
	})

	t.Run("search", func(t *testing.T) {
		code, _, data := e.do(t, "POST", "/v1/search?k=3", "image/png", bytes.NewReader(photo))
		if code != http.StatusOK {
			t.Fatalf("by image: %d %s", code, data)
		}
		res := decodeJSON[searchResponse](t, data)
		if len(res.Results) != 2 {
			t.Fatalf("by image: %d results, want one per garment", len(res.Results))
		}
		if r := res.Results[0]; r.Garment.Type != "upper" || len(r.Matches) != 3 || r.Matches[0].ID != "tee-crimson" || r.Garment.Embedding != nil {
			t.Errorf("red top: %+v", r)
		}
		if r := res.Results[1]; r.Matches[0].ID != "jeans-indigo" || r.Matches[0].Score < 0.99 {
			t.Errorf("blue trousers: %+v", r.Matches)
		}
		for _, r := range res.Results {
			for _, m := range r.Matches {
				if m.Type != r.Garment.Type {
					t.Errorf("a %s garment matched %s item %s", r.Garment.Type, m.Type, m.ID)
				}
			}
		}

		code, _, data = e.do(t, "POST", "/v1/search", "application/json", strings.NewReader(`{"item_id":"dress-emerald","k":2}`))
		res = decodeJSON[searchResponse](t, data)
		if code != http.StatusOK || len(res.Results) != 1 || len(res.Results[0].Matches) != 2 {
			t.Fatalf("by item: %d %s", code, data)
		}
		for _, m := range res.Results[0].Matches {
			if m.ID == "dress-emerald" {
				t.Errorf("by item: the query item is among its own matches")
			}
		}

		code, _, data = e.do(t, "POST", "/v1/search", "application/json", strings.NewReader(`{"embedding":[0.1,-0.7,-0.5,0.3],"k":1,"category_type":"lower"}`))
		res = decodeJSON[searchResponse](t, data)
		if code != http.StatusOK || len(res.Results[0].Matches) != 1 || res.Results[0].Matches[0].ID != "jeans-indigo" {
			t.Errorf("by embedding: %d %s", code, data)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if code, _, data := e.do(t, "DELETE", "/v1/items/tee-rose", "", nil); code != http.StatusNoContent {
			t.Fatalf("%d %s", code, data)
		}
		for _, c := range []struct{ method, path string }{{"GET", "/v1/items/tee-rose"}, {"DELETE", "/v1/items/tee-rose"}, {"GET", "/v1/items/tee-rose/image"}} {
			code, _, data := e.do(t, c.method, c.path, "", nil)
			if code != http.StatusNotFound || decodeJSON[apiErr](t, data).Code != "item_not_found" {
				t.Errorf("%s %s after delete: %d %s", c.method, c.path, code, data)
			}
		}
	})

	t.Run("unknown routes", func(t *testing.T) {
		code, h, data := e.do(t, "GET", "/v1/analyze", "", nil)
		if code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" || decodeJSON[apiErr](t, data).Code != "method_not_allowed" {
			t.Errorf("GET /v1/analyze: %d Allow=%q %s", code, h.Get("Allow"), data)
		}
		code, _, data = e.do(t, "GET", "/v1/nothing", "", nil)
		if code != http.StatusNotFound || decodeJSON[apiErr](t, data).Code != "not_found" {
			t.Errorf("GET /v1/nothing: %d %s", code, data)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		code, _, data := e.do(t, "GET", "/metrics", "", nil)
		if code != http.StatusOK {
			t.Fatalf("%d", code)
		}
		for _, want := range []string{
			`atelier_http_requests_total{code="200",method="POST",route="POST /v1/analyze"} 2`,
			`atelier_http_requests_total{code="201",method="POST",route="POST /v1/items"}`,
			`atelier_http_request_duration_seconds_count{method="POST",route="POST /v1/search"}`,
			`atelier_inference_stage_duration_seconds_count{stage="decode"}`,
			`atelier_inference_stage_duration_seconds_count{stage="detect"}`,
			"atelier_index_items " + strconv.Itoa(len(testCatalog)),
			"atelier_ready 1",
		} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})
}

func TestNotReady(t *testing.T) {
	s := New(Config{Addr: "127.0.0.1:0", Logger: discard()})
	h := s.Handler()
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/healthz", 200}, {"GET", "/readyz", 503}, {"POST", "/v1/analyze", 503}, {"GET", "/v1/items", 503}, {"GET", "/", 200}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, strings.NewReader("x")))
		if rec.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.want)
		}
		if rec.Code == 503 && (rec.Header().Get("Retry-After") == "" || decodeJSON[apiErr](t, rec.Body.Bytes()).Code != "not_ready") {
			t.Errorf("%s %s: 503 without Retry-After or not_ready: %s", c.method, c.path, rec.Body)
		}
	}
}

func TestAuth(t *testing.T) {
	item := encodePNG(t, shopPhoto(testCatalog[0].c, testCatalog[0].typ))
	cases := []struct {
		name, token, addr, auth string
		want                    int
		code                    string
	}{
		{"token, no header", "s3cret", "127.0.0.1:0", "", 401, "unauthorized"},
		{"token, wrong", "s3cret", "127.0.0.1:0", "Bearer guess", 401, "unauthorized"},
		{"token, other scheme", "s3cret", "127.0.0.1:0", "Basic czNjcmV0", 401, "unauthorized"},
		{"token, right", "s3cret", "0.0.0.0:8080", "Bearer s3cret", 201, ""},
		{"token, lower-case scheme", "s3cret", "127.0.0.1:0", "bearer s3cret", 201, ""},
		{"no token, all interfaces", "", "0.0.0.0:8080", "", 403, "writes_disabled"},
		{"no token, empty host", "", ":8080", "", 403, "writes_disabled"},
		{"no token, public address", "", "192.0.2.1:8080", "Bearer anything", 403, "writes_disabled"},
		{"no token, loopback v4", "", "127.0.0.1:8080", "", 201, ""},
		{"no token, loopback v6", "", "[::1]:8080", "", 201, ""},
		{"no token, localhost", "", "localhost:8080", "", 201, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, Config{Token: c.token, Addr: c.addr}, nil)
			var hdr []string
			if c.auth != "" {
				hdr = []string{"Authorization", c.auth}
			}
			body, ct := multipartBody(t, item, map[string]string{"id": "a"})
			code, h, data := e.do(t, "POST", "/v1/items", ct, body, hdr...)
			if code != c.want {
				t.Fatalf("POST: %d %s, want %d", code, data, c.want)
			}
			if c.code != "" && decodeJSON[apiErr](t, data).Code != c.code {
				t.Errorf("POST: %s, want code %s", data, c.code)
			}
			if code == 401 && h.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			wantDelete := c.want
			if c.want == 201 {
				wantDelete = 204
			}
			if code, _, data := e.do(t, "DELETE", "/v1/items/a", "", nil, hdr...); code != wantDelete && !(c.want != 201 && code == 404) {
				t.Errorf("DELETE: %d %s, want %d", code, data, wantDelete)
			}
			if code, _, _ := e.do(t, "GET", "/v1/items", "", nil); code != 200 {
				t.Errorf("reads need no token, got %d", code)
			}
		})
	}
}

// pngHeader returns a PNG signature and a valid IHDR chunk (correct CRC) for a w×h RGB image,
// followed by a little junk where IDAT would be.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	b.WriteString("IDAT and nothing else")
	return b.Bytes()
}

func TestBadInput(t *testing.T) {
	const maxBody = 1 << 20
	e := newTestEnv(t, Config{MaxBodyBytes: maxBody}, nil)
	e.addCatalog(t)
	photo := encodePNG(t, streetPhoto())
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, streetPhoto(), nil); err != nil {
		t.Fatal(err)
	}
	corruptPNG := bytes.Clone(photo)
	for i := 100; i < len(corruptPNG)-100; i += 7 {
		corruptPNG[i] ^= 0x5a
	}
	noImage, noImageCT := multipartBody(t, nil, map[string]string{"id": "x"})
	many := map[string]string{}
	for i := range maxFields + 1 {
		many["f"+strconv.Itoa(i)] = "x"
	}
	manyFields, manyFieldsCT := multipartBody(t, photo, many)
	longField, longFieldCT := multipartBody(t, photo, map[string]string{"name": strings.Repeat("x", maxFieldBytes+1)})
	huge := bytes.Repeat([]byte{0xFF}, maxBody+1)
	copy(huge, jpg.Bytes())
	cases := []struct {
		name, method, path, ctype string
		body                      []byte
		reader                    *bytes.Reader // when set, sent instead of body (multipart)
		chunked                   bool
		want                      int
		code                      string
	}{
		{name: "empty body", path: "/v1/analyze", ctype: "image/jpeg", want: 400, code: "empty_body"},
		{name: "not an image", path: "/v1/analyze", ctype: "application/octet-stream", body: []byte("hello, this is text"), want: 415, code: "unsupported_format"},
		{name: "gif", path: "/v1/analyze", body: []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), want: 415, code: "unsupported_format"},
		{name: "truncated jpeg", path: "/v1/analyze", ctype: "image/jpeg", body: jpg.Bytes()[:jpg.Len()/2], want: 422, code: "truncated_image"},
		{name: "truncated png header", path: "/v1/analyze", ctype: "image/png", body: photo[:20], want: 422, code: "truncated_image"},
		{name: "corrupt png", path: "/v1/analyze", ctype: "image/png", body: corruptPNG, want: 422, code: "bad_image"},
		{name: "bad webp", path: "/v1/analyze", ctype: "image/webp", body: []byte("RIFF\x10\x00\x00\x00WEBPVP8 junkjunk"), want: 422, code: "bad_image"},
		{name: "png claiming 60000x60000", path: "/v1/analyze", ctype: "image/png", body: pngHeader(60000, 60000), want: 413, code: "too_many_pixels"},
		{name: "png claiming 0x10", path: "/v1/analyze", ctype: "image/png", body: pngHeader(0, 10), want: 422, code: "bad_image"},
		{name: "oversized body", path: "/v1/analyze", ctype: "image/jpeg", body: huge, want: 413, code: "body_too_large"},
		{name: "oversized chunked body", path: "/v1/analyze", ctype: "image/jpeg", body: huge, chunked: true, want: 413, code: "body_too_large"},
		{name: "text content type", path: "/v1/analyze", ctype: "text/plain", body: photo, want: 415, code: "unsupported_content_type"},
		{name: "json to analyze", path: "/v1/analyze", ctype: "application/json", body: []byte(`{}`), want: 415, code: "unsupported_content_type"},
		{name: "broken content type", path: "/v1/analyze", ctype: "image/png; =", body: photo, want: 415, code: "unsupported_content_type"},
		{name: "multipart without image", path: "/v1/analyze", ctype: noImageCT, reader: readerOf(noImage), want: 400, code: "missing_image"},
		{name: "multipart with too many fields", path: "/v1/items", ctype: manyFieldsCT, reader: readerOf(manyFields), want: 400, code: "bad_multipart"},
		{name: "multipart with a long field", path: "/v1/items", ctype: longFieldCT, reader: readerOf(longField), want: 400, code: "bad_multipart"},
		{name: "multipart without boundary", path: "/v1/analyze", ctype: "multipart/form-data", body: photo, want: 400, code: "bad_multipart"},
		{name: "search: bad json", path: "/v1/search", ctype: "application/json", body: []byte(`{"item_id":`), want: 400, code: "bad_json"},
		{name: "search: unknown field", path: "/v1/search", ctype: "application/json", body: []byte(`{"id":"x"}`), want: 400, code: "bad_json"},
		{name: "search: empty json", path: "/v1/search", ctype: "application/json", want: 400, code: "empty_body"},
		{name: "search: no query", path: "/v1/search", ctype: "application/json", body: []byte(`{"k":3}`), want: 400, code: "bad_query"},
		{name: "search: two queries", path: "/v1/search", ctype: "application/json", body: []byte(`{"item_id":"tee-rose","embedding":[1,0,0,0]}`), want: 400, code: "bad_query"},
		{name: "search: zero embedding", path: "/v1/search", ctype: "application/json", body: []byte(`{"embedding":[0,0,0,0]}`), want: 400, code: "bad_query"},
		{name: "search: k too large", path: "/v1/search", ctype: "application/json", body: []byte(`{"item_id":"tee-rose","k":1000}`), want: 400, code: "bad_parameter"},
		{name: "search: k not a number", path: "/v1/search?k=ten", ctype: "image/png", body: photo, want: 400, code: "bad_parameter"},
		{name: "search: unknown type", path: "/v1/search", ctype: "application/json", body: []byte(`{"item_id":"tee-rose","category_type":"hat"}`), want: 400, code: "bad_parameter"},
		{name: "search: unknown item", path: "/v1/search", ctype: "application/json", body: []byte(`{"item_id":"nope"}`), want: 404, code: "item_not_found"},
		{name: "list: bad limit", method: "GET", path: "/v1/items?limit=0", want: 400, code: "bad_parameter"},
		{name: "list: bad type", method: "GET", path: "/v1/items?type=hat", want: 400, code: "bad_parameter"},
		{name: "add: no garment", path: "/v1/items", ctype: "image/png", body: encodePNG(t, shopPhoto(colorWhite, 0)), want: 422, code: "no_garment"},
		{name: "add: wrong type", path: "/v1/items?type=lower", ctype: "image/png", body: encodePNG(t, shopPhoto(testCatalog[0].c, testCatalog[0].typ)), want: 422, code: "no_garment"},
		{name: "add: control chars in id", path: "/v1/items?id=a%00b", ctype: "image/png", body: photo, want: 400, code: "bad_parameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = "POST"
			}
			var body *bytes.Reader
			switch {
			case c.reader != nil:
				body = c.reader
			default:
				body = bytes.NewReader(c.body)
			}
			req, err := http.NewRequest(method, e.ts.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if c.chunked {
				req.ContentLength = -1
				req.Body = io.NopCloser(body)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%d %s %s, want %d JSON", resp.StatusCode, resp.Header.Get("Content-Type"), data, c.want)
			}
			got := decodeJSON[apiErr](t, data)
			if got.Code != c.code || got.Error == "" || got.RequestID == "" {
				t.Errorf("error %+v, want code %s with a message and a request id", got, c.code)
			}
			// The server keeps serving after every bad request.
			if code, _, data := e.do(t, "POST", "/v1/analyze", "image/png", bytes.NewReader(photo)); code != 200 {
				t.Fatalf("after the bad request, a good one got %d %s", code, data)
			}
		})
	}
}

var colorWhite = color.RGBA{250, 250, 250, 255}

func readerOf(r io.Reader) *bytes.Reader {
	var buf bytes.Buffer
	buf.ReadFrom(r)
	return bytes.NewReader(buf.Bytes())
}

func TestQueueFull(t *testing.T) {
	a := newBlockingAnalyzer()
	e := newTestEnv(t, Config{Workers: 1, QueueSize: 1}, a)
	photo := encodePNG(t, streetPhoto())
	codes := make(chan int, 2)
	post := func() {
		resp, err := e.ts.Client().Post(e.ts.URL+"/v1/analyze", "image/png", bytes.NewReader(photo))
		if err != nil {
			codes <- -1
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}
	go post()
	<-a.entered // the first request holds the only worker
	go post()
	waitFor(t, func() bool { return e.srv.limiter.queued() == 1 }) // the second one waits
	code, h, data := e.do(t, "POST", "/v1/analyze", "image/png", bytes.NewReader(photo))
	if code != http.StatusServiceUnavailable || decodeJSON[apiErr](t, data).Code != "overloaded" {
		t.Fatalf("third request: %d %s, want 503 overloaded", code, data)
	}
	if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", h.Get("Retry-After"))
	}
	close(a.release)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("a queued request got %d, want 200", c)
		}
	}
	if a.calls.Load() != 2 {
		t.Errorf("the analyzer ran %d times, want 2 (the refused request must not reach it)", a.calls.Load())
	}
	_, _, m := e.do(t, "GET", "/metrics", "", nil)
	if !bytes.Contains(m, []byte("atelier_inference_rejected_total 1")) {
		t.Errorf("/metrics does not count the rejection")
	}
}

func TestRequestTimeout(t *testing.T) {
	a := newBlockingAnalyzer()
	e := newTestEnv(t, Config{RequestTimeout: 100 * time.Millisecond}, a)
	code, _, data := e.do(t, "POST", "/v1/analyze", "image/png", bytes.NewReader(encodePNG(t, streetPhoto())))
	if code != http.StatusGatewayTimeout || decodeJSON[apiErr](t, data).Code != "timeout" {
		t.Errorf("%d %s, want 504 timeout", code, data)
	}
}

func TestRequestID(t *testing.T) {
	e := newTestEnv(t, Config{}, nil)
	_, h, data := e.do(t, "POST", "/v1/analyze", "image/png", nil, "X-Request-Id", "client-42")
	if h.Get("X-Request-Id") != "client-42" || decodeJSON[apiErr](t, data).RequestID != "client-42" {
		t.Errorf("a valid client id is not kept: header %q, body %s", h.Get("X-Request-Id"), data)
	}
	_, h, _ = e.do(t, "GET", "/healthz", "", nil, "X-Request-Id", "bad id; forged=log line")
	if id := h.Get("X-Request-Id"); len(id) != 16 || strings.ContainsAny(id, " \n") {
		t.Errorf("an invalid client id was not replaced: %q", id)
	}
}

// TestAcknowledgedItemsSurvive reopens the index and the image store after a 201: both must hold
// what was acknowledged.
func TestAcknowledgedItemsSurvive(t *testing.T) {
	e := newTestEnv(t, Config{}, nil)
	e.addCatalog(t)
	if err := e.idx.Close(); err != nil {
		t.Fatal(err)
	}
	idx, err := index.OpenEmbedded(e.idxPath)
	if err != nil {
		t.Fatal(err)
	}
	e.idx = idx // closed by the cleanup
	e.srv.SetBackend(colorAnalyzer{}, idx)
	for _, it := range testCatalog {
		got, err := idx.Get(context.Background(), it.id)
		if err != nil {
			t.Fatalf("acknowledged item lost: %v", err)
		}
		if _, err := os.Stat(filepath.Join(e.imageDir, got.Image)); err != nil {
			t.Errorf("picture of %s lost: %v", it.id, err)
		}
		if code, _, _ := e.do(t, "GET", "/v1/items/"+it.id+"/image", "", nil); code != 200 {
			t.Errorf("GET image of %s after reopening: %d", it.id, code)
		}
	}
}

func TestItemImageOnlyServesPictures(t *testing.T) {
	e := newTestEnv(t, Config{}, nil)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	pic := filepath.Join(dir, "pic.png")
	os.WriteFile(secret, []byte("password"), 0o600)
	os.WriteFile(pic, encodePNG(t, shopPhoto(testCatalog[0].c, testCatalog[0].typ)), 0o600)
	items := []index.Item{
		{ID: "secret", Image: secret, Embedding: []float32{1, 0, 0, 0}},
		{ID: "pic", Image: pic, Embedding: []float32{0, 1, 0, 0}},
		{ID: "remote", Image: "https://shop.example/p/1.jpg", Embedding: []float32{0, 0, 1, 0}},
		{ID: "none", Embedding: []float32{0, 0, 0, 1}},
	}
	if err := e.idx.Add(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	e.ts.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, c := range []struct {
		id   string
		want int
	}{{"secret", 404}, {"pic", 200}, {"remote", 302}, {"none", 404}} {
		code, h, data := e.do(t, "GET", "/v1/items/"+c.id+"/image", "", nil)
		if code != c.want || bytes.Contains(data, []byte("password")) {
			t.Errorf("%s: %d %s, want %d", c.id, code, data, c.want)
		}
		if code == 302 && h.Get("Location") != items[2].Image {
			t.Errorf("redirect to %q", h.Get("Location"))
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	a := newBlockingAnalyzer()
	idx, err := index.OpenEmbedded(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Addr: ln.Addr().String(), Logger: discard()})
	s.SetBackend(a, idx)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String()
	codes := make(chan int, 1)
	go func() {
		resp, err := http.Post(url+"/v1/analyze", "image/png", bytes.NewReader(encodePNG(t, streetPhoto())))
		if err != nil {
			codes <- -1
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}()
	<-a.entered
	cancel()
	// The listener closes at once; the request in flight goes on.
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if s.ready() {
		t.Errorf("still ready while draining")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned before the request in flight finished: %v", err)
	default:
	}
	close(a.release)
	if c := <-codes; c != 200 {
		t.Errorf("the request in flight got %d, want 200", c)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestServeRefusesMismatchedListener(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := New(Config{Addr: "127.0.0.1:8080", Logger: discard()})
	err = s.Serve(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("Serve on %s with a loopback Addr and no token: %v, want a refusal", ln.Addr(), err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// catalogCounter is colorAnalyzer with a catalog analysis, counting which one each request uses.
type catalogCounter struct {
	colorAnalyzer
	street, catalog atomic.Int64
}

func (a *catalogCounter) Analyze(ctx context.Context, img image.Image, name string) (analyze.Result, error) {
	a.street.Add(1)
	return a.colorAnalyzer.Analyze(ctx, img, name)
}

func (a *catalogCounter) AnalyzeCatalog(ctx context.Context, img image.Image, name string) (analyze.Result, error) {
	a.catalog.Add(1)
	return a.colorAnalyzer.Analyze(ctx, img, name)
}

// TestCatalogAnalysis checks that item photos go to the analyzer's catalog analysis, and that
// street photos (analyze, search by photo) do not.
func TestCatalogAnalysis(t *testing.T) {
	a := &catalogCounter{}
	e := newTestEnv(t, Config{}, a)
	photo := encodePNG(t, streetPhoto())
	for _, tt := range []struct {
		path                 string
		code                 int
		street, catalogCalls int64
	}{
		{"/v1/analyze", http.StatusOK, 1, 0},
		{"/v1/search", http.StatusOK, 2, 0},
		{"/v1/items", http.StatusCreated, 2, 1},
	} {
		body, ct := multipartBody(t, photo, nil)
		if code, _, data := e.do(t, "POST", tt.path, ct, body); code != tt.code {
			t.Fatalf("POST %s: %d %s", tt.path, code, data)
		}
		if s, c := a.street.Load(), a.catalog.Load(); s != tt.street || c != tt.catalogCalls {
			t.Errorf("after POST %s: %d street and %d catalog analyses, want %d and %d", tt.path, s, c, tt.street, tt.catalogCalls)
		}
	}
}

// modeledAnalyzer is colorAnalyzer naming the network of its embeddings.
type modeledAnalyzer struct{ colorAnalyzer }

func (modeledAnalyzer) EmbeddingModel() string { return "net-a" }

// TestItemEmbeddingModel checks that an item added through the API records the network that
// embedded it, over whatever the client sent, and only when the analyzer names one.
func TestItemEmbeddingModel(t *testing.T) {
	for _, tt := range []struct {
		name     string
		analyzer Analyzer
		fields   map[string]string
		want     string
	}{
		{"named", modeledAnalyzer{}, nil, "net-a"},
		{"client's value replaced", modeledAnalyzer{}, map[string]string{"meta." + index.MetaEmbeddingModel: "mine"}, "net-a"},
		{"unnamed", colorAnalyzer{}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, Config{}, tt.analyzer)
			fields := map[string]string{"id": "shirt"}
			maps.Copy(fields, tt.fields)
			body, ct := multipartBody(t, encodePNG(t, shopPhoto(color.RGBA{230, 80, 150, 255}, fashion.Upper)), fields)
			if code, _, data := e.do(t, "POST", "/v1/items", ct, body); code != http.StatusCreated {
				t.Fatalf("POST /v1/items: %d %s", code, data)
			}
			it, err := e.idx.Get(t.Context(), "shirt")
			if err != nil {
				t.Fatal(err)
			}
			if got := it.Meta[index.MetaEmbeddingModel]; got != tt.want {
				t.Errorf("meta %s = %q, want %q", index.MetaEmbeddingModel, got, tt.want)
			}
		})
	}
}
