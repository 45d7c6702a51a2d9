package model

import (
	"runtime"
	"sync"
)

// ParallelFor calls fn(i) for every i in [0, n) on up to GOMAXPROCS goroutines, so fn must only
// write what belongs to i. It returns the error of the lowest i that failed, so that the outcome
// does not depend on scheduling.
func ParallelFor(n int, fn func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range next {
				errs[i] = fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
