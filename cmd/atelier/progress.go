package main

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newBar is the progress bar of the long commands: n steps described by what on w (stderr),
// with the rate in units per second when unit is not empty, cleared when done.
func newBar(w io.Writer, n int, what, unit string) *progressbar.ProgressBar {
	opts := []progressbar.Option{progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(200 * time.Millisecond), progressbar.OptionClearOnFinish()}
	if unit != "" {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	return progressbar.NewOptions(n, opts...)
}
