//go:build !noxla

package nn

import (
	"github.com/gomlx/go-xla/compute/xla"
)

func init() {
	// The XLA backend would otherwise download a PJRT plugin from GitHub on first use, which fails
	// (or hangs) offline: plugins are only used when installed.
	xla.EnableAutoInstall(false)
	xlaPlugins = xla.GetAvailablePlugins
}
