package server

import (
	"bytes"
	"flag"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	loadDuration = flag.Duration("load.duration", 3*time.Second, "how long TestLoad runs (the issue's figure: -load.duration=20s)")
	loadClients  = flag.Int("load.clients", 8, "concurrent clients of TestLoad")
)

// TestLoad runs concurrent clients on loopback for -load.duration, mixing analyses, searches by
// photo and searches by item. Every answer must be a success or 503 backpressure (with
// Retry-After); it logs p50/p99 latency and throughput (go test -v -run TestLoad).
func TestLoad(t *testing.T) {
	e := newTestEnv(t, Config{Workers: 2, QueueSize: 4}, nil)
	e.addCatalog(t)
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, streetPhoto(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	type op struct {
		name, path, ctype string
		body              []byte
	}
	ops := []op{
		{"analyze", "/v1/analyze", "image/jpeg", jpg.Bytes()},
		{"search by photo", "/v1/search?k=5", "image/jpeg", jpg.Bytes()},
		{"search by item", "/v1/search", "application/json", []byte(`{"item_id":"tee-crimson","k":5}`)},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *loadClients}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	type sample struct {
		op     int
		status int
		d      time.Duration
	}
	var (
		mu      sync.Mutex
		samples []sample
		bad     []string
	)
	deadline := time.Now().Add(*loadDuration)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range *loadClients {
		wg.Go(func() {
			for i := c; time.Now().Before(deadline); i++ {
				o := i % len(ops)
				t0 := time.Now()
				resp, err := client.Post(e.ts.URL+ops[o].path, ops[o].ctype, bytes.NewReader(ops[o].body))
				if err != nil {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%s: %v", ops[o].name, err))
					mu.Unlock()
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, fmt.Sprintf("%s: reading: %v", ops[o].name, err))
				case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "":
					bad = append(bad, fmt.Sprintf("%s: 503 without Retry-After", ops[o].name))
				case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable:
					bad = append(bad, fmt.Sprintf("%s: %d %s", ops[o].name, resp.StatusCode, body))
				}
				samples = append(samples, sample{o, resp.StatusCode, d})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(bad) > 0 {
		t.Errorf("%d of %d requests failed with something other than 503 backpressure; first: %s", len(bad), len(samples)+len(bad), bad[0])
	}
	var ok []time.Duration
	perOp := make([][]time.Duration, len(ops))
	refused := 0
	for _, s := range samples {
		if s.status == http.StatusOK {
			ok = append(ok, s.d)
			perOp[s.op] = append(perOp[s.op], s.d)
		} else {
			refused++
		}
	}
	if len(ok) == 0 {
		t.Fatal("no request succeeded")
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("%d clients for %s: %d requests, %d ok, %d refused with 503; %.0f ok/s; latency of ok: %s",
		*loadClients, elapsed.Round(time.Millisecond), len(samples), len(ok), refused, float64(len(ok))/elapsed.Seconds(), percentiles(ok)))
	for i, o := range ops {
		if len(perOp[i]) > 0 {
			lines = append(lines, fmt.Sprintf("  %-16s %6d ok, %s", o.name, len(perOp[i]), percentiles(perOp[i])))
		}
	}
	t.Log("load test:\n" + strings.Join(lines, "\n"))
}

// percentiles formats the p50 and p99 of ds (which it sorts).
func percentiles(ds []time.Duration) string {
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return fmt.Sprintf("p50 %s p99 %s", at(0.50).Round(10*time.Microsecond), at(0.99).Round(10*time.Microsecond))
}
