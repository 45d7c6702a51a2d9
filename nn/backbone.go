package nn

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's graph DSL reads best unqualified.
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
)

// Backbone architectures.
const (
	// ArchPatch is designed for the Go backend: a 4x4/s4 patchify stem, 2x2/s2 patch-merging
	// downsamplers and bottleneck blocks (1x1 reduce, 3x3, 1x1 expand) whose FLOPs sit in large
	// matrix multiplications at low resolution.
	ArchPatch = "patch"
	// ArchResNet is a ResNet-18-style network: 7x7/s2 stem, 3x3/s2 max pooling, basic blocks of two
	// 3x3 convolutions, strided first block per stage with a 1x1 projection shortcut.
	ArchResNet = "resnet"
)

// BackboneConfig sizes a backbone. The same configuration builds the PyTorch twin
// (bench/pytorch_twin.py), so changes must be made in both.
type BackboneConfig struct {
	Arch      string // ArchPatch or ArchResNet
	Widths    [4]int // channels of the stages at strides 4, 8, 16, 32
	Depths    [4]int // blocks per stage
	InputSize int    // side of the square input images the models feed it; a multiple of 32
}

// DefaultBackbone is the backbone atelier's models use: fast on the Go backend and sized for
// 64-128 px garment crops.
func DefaultBackbone() BackboneConfig {
	return BackboneConfig{Arch: ArchPatch, Widths: [4]int{64, 128, 256, 512}, Depths: [4]int{1, 2, 2, 1}, InputSize: 128}
}

// ResNetBackbone is the ResNet-18-style configuration.
func ResNetBackbone() BackboneConfig {
	return BackboneConfig{Arch: ArchResNet, Widths: [4]int{64, 128, 256, 512}, Depths: [4]int{2, 2, 2, 2}, InputSize: 128}
}

// Validate reports a configuration that cannot be built.
func (c BackboneConfig) Validate() error {
	if c.Arch != ArchPatch && c.Arch != ArchResNet {
		return fmt.Errorf("backbone architecture %q: want %q or %q", c.Arch, ArchPatch, ArchResNet)
	}
	for i := range 4 {
		if c.Widths[i] < 2 || c.Depths[i] < 1 || c.Widths[i]%2 != 0 {
			return fmt.Errorf("backbone stage %d: width %d and depth %d must be even and >= 2, and >= 1", i, c.Widths[i], c.Depths[i])
		}
	}
	if c.InputSize < 32 || c.InputSize%32 != 0 {
		return fmt.Errorf("backbone input size %d: want a multiple of 32", c.InputSize)
	}
	return nil
}

// Backbone builds the configured network on images [B, H, W, 3] (H and W multiples of 32, values
// normalized by the caller) and returns its four feature maps, at strides 4, 8, 16 and 32, with
// cfg.Widths channels. Variables live under the sub-scope "backbone". It panics on an invalid
// configuration (check with Validate first), as GoMLX layers do while a graph is built.
func Backbone(scope *model.Scope, cfg BackboneConfig, images *Node) []*Node {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	scope = scope.In("backbone")
	if cfg.Arch == ArchResNet {
		return resnet(scope, cfg, images)
	}
	return patchNet(scope, cfg, images)
}

// convBN is a bias-free convolution, batch normalization and optional ReLU. In inference the
// normalization's multiplier is folded into the kernel, which saves a pass over the output.
func convBN(scope *model.Scope, x *Node, out, k, stride int, same, relu bool) *Node {
	c := Conv2D(scope, x, out, k).Stride(stride).Bias(false)
	if !same {
		c = c.Valid()
	}
	var y *Node
	if scope.IsTraining(x.Graph()) {
		y = BatchNorm(scope, c.Done())
	} else {
		mul, add := batchNormFold(scope, x.Graph(), x.DType(), out)
		c.outScale = mul
		y = Add(c.Done(), perChannel(add, 4))
	}
	if relu {
		y = Relu(y)
	}
	return y
}

func patchNet(scope *model.Scope, cfg BackboneConfig, x *Node) []*Node {
	x = convBN(scope.In("stem"), x, cfg.Widths[0], 4, 4, false, true)
	feats := make([]*Node, 4)
	for s := range 4 {
		st := scope.In("stage%d", s)
		if s > 0 {
			x = convBN(st.In("down"), x, cfg.Widths[s], 2, 2, false, true)
		}
		for b := range cfg.Depths[s] {
			bs := st.In("block%d", b)
			c := cfg.Widths[s]
			h := convBN(bs.In("reduce"), x, c/2, 1, 1, true, true)
			h = convBN(bs.In("spatial"), h, c/2, 3, 1, true, true)
			h = convBN(bs.In("expand"), h, c, 1, 1, true, false)
			x = Relu(Add(x, h))
		}
		feats[s] = x
	}
	return feats
}

func resnet(scope *model.Scope, cfg BackboneConfig, x *Node) []*Node {
	x = convBN(scope.In("stem"), x, cfg.Widths[0], 7, 2, true, true)
	x = MaxPool2D(x, 3, 2, [2]int{1, 1})
	feats := make([]*Node, 4)
	for s := range 4 {
		st := scope.In("stage%d", s)
		for b := range cfg.Depths[s] {
			bs := st.In("block%d", b)
			c, stride := cfg.Widths[s], 1
			if s > 0 && b == 0 {
				stride = 2
			}
			h := convBN(bs.In("conv1"), x, c, 3, stride, true, true)
			h = convBN(bs.In("conv2"), h, c, 3, 1, true, false)
			shortcut := x
			if stride != 1 || x.Shape().Dim(-1) != c {
				shortcut = convBN(bs.In("project"), x, c, 1, stride, true, false)
			}
			x = Relu(Add(h, shortcut))
		}
		feats[s] = x
	}
	return feats
}

// ClassifierHead pools a feature map [B, H, W, C] globally and maps it to numClasses logits with
// a dense layer in the sub-scope "head".
func ClassifierHead(scope *model.Scope, feat *Node, numClasses int) *Node {
	return layers.Dense(scope.In("head"), GlobalAvgPool(feat), true, numClasses)
}

// Relu is max(x, 0), one pass, with a gradient that is one masked copy: GoMLX's own gradient of
// Max (as in activation.Relu) spends about seven elementwise passes on the Go backend.
func Relu(x *Node) *Node {
	zero := ScalarZero(x.Graph(), x.DType())
	return withGradient(x, func(x *Node) *Node { return Max(x, zero) }, func(x, _, dy *Node) *Node {
		return Where(GreaterThan(x, zero), dy, zero)
	})
}
