package index

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv names, in the environment of a re-executed test binary, the index file that the
// child bulk-inserts into until it is killed.
const crashChildEnv = "ATELIER_INDEX_CRASH_CHILD"

// crashItem is the deterministic item with this ID, so that the parent can check what it reads.
func crashItem(id string, seed uint64) Item {
	r := rand.New(rand.NewPCG(seed, 0))
	v := make([]float32, 32)
	for j := range v {
		v[j] = float32(r.NormFloat64())
	}
	return Item{ID: id, Name: "crash " + id, Type: types[seed%3], Category: categories[seed%5], Embedding: v}
}

// crashChild adds small batches forever, printing each ID once Add has returned.
func crashChild(path, round string) {
	e, err := OpenEmbedded(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for b := 0; ; b++ {
		batch := make([]Item, 1+b%4)
		for i := range batch {
			seed := uint64(b*4 + i)
			batch[i] = crashItem(fmt.Sprintf("%s-%d", round, seed), seed)
		}
		if err := e.Add(context.Background(), batch); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		for _, it := range batch {
			fmt.Println(it.ID) // os.Stdout is unbuffered: the line leaves before the next Add
		}
	}
}

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, os.Getenv(crashChildEnv+"_ROUND"))
	}
	os.Exit(m.Run())
}

// TestCrashKeepsAcknowledgedItems kills a bulk-inserting child process with SIGKILL at a random
// moment, 20 times over the same file, and checks after each that every item the child saw
// acknowledged is there, intact, and that bbolt finds the file consistent.
func TestCrashKeepsAcknowledgedItems(t *testing.T) {
	path := t.TempDir() + "/crash.db"
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := map[string]uint64{}
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, fmt.Sprintf("%s_ROUND=r%d", crashChildEnv, round))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		// Wait for the first acknowledgement (the child has the file open and is writing), then
		// let it run a random while longer.
		first := lines.Scan()
		time.Sleep(time.Duration(r.IntN(40_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		n := 0
		for ok := first; ok; ok = lines.Scan() {
			id := lines.Text()
			_, seed, found := strings.Cut(id, "-")
			s, err := strconv.ParseUint(seed, 10, 64)
			if !found || err != nil {
				t.Fatalf("round %d: child printed %q", round, id)
			}
			acked[id] = s
			n++
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended with %v, not by SIGKILL; stderr:\n%s", round, err, stderr.String())
		}
		if n == 0 {
			t.Fatalf("round %d: child acknowledged nothing; stderr:\n%s", round, stderr.String())
		}

		e, err := OpenEmbedded(path)
		if err != nil {
			t.Fatalf("round %d: reopening after SIGKILL: %v", round, err)
		}
		if err := e.Check(); err != nil {
			t.Errorf("round %d: bbolt check: %v", round, err)
		}
		for id, seed := range acked {
			got, err := e.Get(t.Context(), id)
			if err != nil {
				t.Errorf("round %d: acknowledged item lost: %v", round, err)
				continue
			}
			want := crashItem(id, seed)
			if got.Name != want.Name || got.Type != want.Type || cosine(got.Embedding, want.Embedding) < 1-1e-6 {
				t.Errorf("round %d: item %s read back as %+v", round, id, got)
			}
		}
		t.Logf("round %d: killed after %d acknowledged items; %d acknowledged in all", round, n, len(acked))
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
