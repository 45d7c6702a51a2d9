// Package nn holds the GoMLX building blocks of atelier's networks: 2D convolution, pooling,
// normalization, bilinear point sampling, backbones, backend selection and inference checkpoints.
//
// Every layer works on every GoMLX backend and picks, per backend, a formulation the backend runs
// fast. On XLA a convolution is XLA's own; on the pure Go backend, whose ConvGeneral runs plain
// loops, whose MaxPool has no gradient and which lacks the BatchNorm ops, the layers are built from
// reshapes, strided slices, concatenations and matrix multiplications (the operations it runs on
// SIMD kernels), and never use layers.Convolution, MaxPool or the backend BatchNorm ops.
//
// # Layout
//
// Images and feature maps are channels-last (NHWC): [batch, height, width, channels], float32.
// Convolution kernels are [kernelH, kernelW, inChannels/groups, outChannels] (HWIO).
// Points are (x, y) pairs in [0, 1] relative to the image width and height.
//
// # Variables
//
// Layers take a *model.Scope and create their variables in a sub-scope named after the layer
// ("conv", "batch_norm", ...), like GoMLX's ml/layers: call scope.In("name") to separate two
// layers of the same kind. Whether a graph trains is read from the store (Store.SetTraining),
// as the gomlx trainer sets it.
package nn
