package model

import (
	"fmt"
	"testing"
)

func TestParallelFor(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		failAt  []int
		wantErr string
	}{
		{name: "none", n: 0},
		{name: "all succeed", n: 100},
		{name: "one fails", n: 100, failAt: []int{57}, wantErr: "item 57"},
		{name: "lowest failure wins", n: 100, failAt: []int{90, 3, 42}, wantErr: "item 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := map[int]bool{}
			for _, i := range tt.failAt {
				fail[i] = true
			}
			calls := make([]int, tt.n)
			err := ParallelFor(tt.n, func(i int) error {
				calls[i]++
				if fail[i] {
					return fmt.Errorf("item %d", i)
				}
				return nil
			})
			for i, c := range calls {
				if c != 1 {
					t.Errorf("fn(%d) ran %d times, want 1", i, c)
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
