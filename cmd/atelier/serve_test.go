package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atelier-ml/atelier/analyze"
	"github.com/atelier-ml/atelier/index"
	"github.com/atelier-ml/atelier/server"
)

// stubAnalyzer is a test double of the pipeline: one upper-body garment covering the image.
type stubAnalyzer struct{}

func (stubAnalyzer) Analyze(_ context.Context, img image.Image, name string) (analyze.Result, error) {
	b := img.Bounds()
	return analyze.Result{Image: name, Garments: []analyze.Garment{{
		Box:       [4]float32{0, 0, float32(b.Dx()), float32(b.Dy())},
		Type:      "upper",
		Score:     0.9,
		Category:  analyze.Category{Name: "Tee", Score: 0.9},
		Embedding: []float32{1, 0, 0},
	}}}, nil
}

func testServeOptions(dir string) serveOptions {
	return serveOptions{dataDir: dir, maxBodyMB: 20, maxMegapixels: 40, timeout: 5 * time.Second, shutdownTimeout: 5 * time.Second}
}

// waitReady polls url's /readyz until it answers 200, failing the test when the serve call that
// reports on done returns first (its error is put back for the caller) or after timeout.
func waitReady(t *testing.T, url string, done chan error, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve stopped before it was ready: %v", err)
		case <-deadline:
			t.Fatalf("serve not ready after %v (last: %v)", timeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestServeUntilSIGTERM runs the command's server, adds an item, stops it with SIGTERM and
// checks that the item is in the index on disk.
func TestServeUntilSIGTERM(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- serve(context.Background(), ln, testServeOptions(dir), func(context.Context, serveOptions) (server.Analyzer, error) {
			return stubAnalyzer{}, nil
		})
	}()
	url := "http://" + ln.Addr().String()
	waitReady(t, url, done, 10*time.Second)
	var img bytes.Buffer
	png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	resp, err := http.Post(url+"/v1/items?id=shirt-1", "image/png", &img)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("adding an item: %d", resp.StatusCode)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s of SIGTERM")
	}
	idx, err := index.OpenEmbedded(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if _, err := idx.Get(context.Background(), "shirt-1"); err != nil {
		t.Errorf("the acknowledged item is not in the index: %v", err)
	}
}

func TestServeLoadFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), ln, testServeOptions(t.TempDir()), func(context.Context, serveOptions) (server.Analyzer, error) {
		return nil, errors.New("no model here")
	})
	if err == nil || !strings.Contains(err.Error(), "no model here") {
		t.Errorf("serve with a failing model load: %v, want that error", err)
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--max-body-mb", "0"},
		{"serve", "--workers", "-1"},
		{"serve", "--timeout", "0s"},
		{"serve", "extra-arg"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("atelier %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}

// modeledStub is stubAnalyzer naming the network of its embeddings.
type modeledStub struct{ stubAnalyzer }

func (modeledStub) EmbeddingModel() string { return "net-a" }

// TestWarnForeign checks the start-up warning about catalog items of another network, and the
// count behind it.
func TestWarnForeign(t *testing.T) {
	idx, err := index.OpenEmbedded(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	var items []index.Item
	for i, m := range []string{"net-a", "net-b", "", "net-a", "net-b"} {
		it := index.Item{ID: string(rune('a' + i)), Type: "upper", Embedding: []float32{1, float32(i), 0}}
		if m != "" {
			it.Meta = map[string]string{index.MetaEmbeddingModel: m}
		}
		items = append(items, it)
	}
	if err := idx.Add(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		limit, checked, foreign int
	}{{10, 5, 3}, {5, 5, 3}, {3, 3, 2}, {1, 1, 0}} {
		checked, foreign, err := foreignItems(t.Context(), idx, "net-a", tt.limit)
		if err != nil || checked != tt.checked || foreign != tt.foreign {
			t.Errorf("limit %d: %d checked, %d foreign (%v); want %d, %d", tt.limit, checked, foreign, err, tt.checked, tt.foreign)
		}
	}

	for _, tt := range []struct {
		name     string
		analyzer server.Analyzer
		warned   bool
	}{{"network named", modeledStub{}, true}, {"network not named", stubAnalyzer{}, false}} {
		var logs bytes.Buffer
		warnForeign(t.Context(), slog.New(slog.NewTextHandler(&logs, nil)), idx, tt.analyzer, len(items))
		if got := strings.Contains(logs.String(), "foreign=3 checked=5"); got != tt.warned {
			t.Errorf("%s: logged %q, want a warning: %v", tt.name, logs.String(), tt.warned)
		}
	}
}
