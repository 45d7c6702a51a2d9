// Package model holds atelier's trained networks as model bundles, and (in its subpackages) the
// networks themselves and their losses.
//
// A bundle is a directory with a bundle.json that describes it (format version, the networks it
// holds with their tasks, input sizes and normalisation, the vocabulary, how each network was
// trained and the metrics measured on its test split) and one inference checkpoint per network,
// each in its own subdirectory. A bundle loads from a directory on disk or from any fs.FS, such
// as an embed.FS compiled into the binary.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/atelier-ml/atelier/fashion"
	"github.com/atelier-ml/atelier/imageio"
	"github.com/atelier-ml/atelier/nn"
)

// BundleFile is the name of a bundle's description file.
const BundleFile = "bundle.json"

// FormatVersion is the version of bundle.json this package writes and reads.
const FormatVersion = 1

// The task names, as `atelier train` and `atelier eval` spell them; a bundle keys its networks by task.
const (
	TaskClassifier = "classifier"
	TaskFashionNet = "fashionnet"
	TaskDetector   = "detector"
	TaskAligner    = "aligner"
)

// Bundle describes a model bundle. Networks are keyed by task.
type Bundle struct {
	FormatVersion int                 `json:"format_version"`
	Tasks         []string            `json:"tasks"`
	Networks      map[string]*Network `json:"networks"`
	Vocabulary    Vocabulary          `json:"vocabulary"`

	// Where the bundle was loaded from, for LoadNetwork.
	fsys fs.FS
	dir  string
}

// Network describes one network of a bundle.
type Network struct {
	Task string `json:"task"`
	// Checkpoint is the subdirectory (slash-separated, relative to the bundle) of its variables.
	Checkpoint string `json:"checkpoint"`
	// InputSize is the height and width of the images the network takes, Channels their depth.
	InputSize [2]int `json:"input_size"`
	Channels  int    `json:"channels"`
	// Normalization maps pixel values to the network's inputs (see imageio.Norm).
	Normalization Normalization `json:"normalization"`
	// Config holds the network's architecture hyper-parameters, in the network package's terms.
	Config json.RawMessage `json:"config,omitempty"`
	// Training says on what and how the network was trained.
	Training Training `json:"training"`
	// Metrics are the network's results on its test split, as `atelier eval` prints them.
	Metrics json.RawMessage `json:"metrics,omitempty"`
}

// Normalization is imageio.Norm in JSON form.
type Normalization struct {
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// Norm returns the normalisation for imageio.
func (n Normalization) Norm() imageio.Norm { return imageio.Norm{Mean: n.Mean, Std: n.Std} }

// Training describes a network's training run.
type Training struct {
	// Dataset names the data ("Fashion-MNIST", "synthetic, seed 1", ...), Format is its --format.
	Dataset string `json:"dataset"`
	Format  string `json:"format"`
	Split   string `json:"split"`
	Samples int    `json:"samples"`
	// Augmentation lists the augmentations applied, in words.
	Augmentation string  `json:"augmentation,omitempty"`
	Epochs       int     `json:"epochs,omitempty"`
	Steps        int     `json:"steps"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	Seed         uint64  `json:"seed"`
	// InitializedFrom names the bundle whose weights the run started from (fine-tuning).
	InitializedFrom string `json:"initialized_from,omitempty"`
	// Earlier are the runs that that bundle's network went through, earliest first (each with
	// no Earlier of its own), so that a bundle tells its whole training once the others are gone.
	Earlier []Training `json:"earlier,omitempty"`
	// Backend is the GoMLX backend it ran on; Seconds the training time (all resumed parts).
	Backend string  `json:"backend"`
	Seconds float64 `json:"seconds"`
}

// Vocabulary is the label space of a bundle's networks.
type Vocabulary struct {
	Categories []Label  `json:"categories"`
	Attributes []Label  `json:"attributes,omitempty"`
	Landmarks  []string `json:"landmarks,omitempty"`
}

// Label is a category or an attribute with its type ("upper", "texture", ...).
type Label struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// VocabularyOf converts a dataset vocabulary, adding the landmark names when withLandmarks.
func VocabularyOf(v fashion.Vocabulary, withLandmarks bool) Vocabulary {
	var out Vocabulary
	for _, c := range v.Categories {
		out.Categories = append(out.Categories, Label{Name: c.Name, Type: c.Type.String()})
	}
	for _, a := range v.Attributes {
		out.Attributes = append(out.Attributes, Label{Name: a.Name, Type: a.Type.String()})
	}
	if withLandmarks {
		out.Landmarks = fashion.LandmarkNames[:]
	}
	return out
}

// CategoryNames returns the category names in id order.
func (v Vocabulary) CategoryNames() []string {
	names := make([]string, len(v.Categories))
	for i, c := range v.Categories {
		names[i] = c.Name
	}
	return names
}

// New returns an empty bundle with the given vocabulary.
func New(vocab Vocabulary) *Bundle {
	return &Bundle{FormatVersion: FormatVersion, Networks: map[string]*Network{}, Vocabulary: vocab}
}

// Load reads the bundle in the directory dir.
func Load(dir string) (*Bundle, error) {
	return LoadFS(os.DirFS(dir), ".")
}

// LoadFS reads the bundle in the directory dir of fsys (slash-separated, "." for its root).
func LoadFS(fsys fs.FS, dir string) (*Bundle, error) {
	name := path.Join(dir, BundleFile)
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading model bundle: %w", err)
	}
	b := &Bundle{}
	if err := json.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("reading model bundle %s: %w", name, err)
	}
	if b.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("model bundle %s has format version %d; this atelier reads version %d", name, b.FormatVersion, FormatVersion)
	}
	if b.Networks == nil {
		b.Networks = map[string]*Network{}
	}
	for task, n := range b.Networks {
		if n == nil || n.Checkpoint == "" || !fs.ValidPath(n.Checkpoint) {
			return nil, fmt.Errorf("model bundle %s: network %q has no valid checkpoint directory", name, task)
		}
		if _, err := fs.Stat(fsys, path.Join(dir, n.Checkpoint, nn.CheckpointFile)); err != nil {
			return nil, fmt.Errorf("model bundle %s: network %q: %w", name, task, err)
		}
	}
	b.fsys, b.dir = fsys, dir
	return b, nil
}

// LoadOrNew loads the bundle in dir, or returns New(vocab) when dir holds none, so that several
// trainings can add their networks to one bundle.
func LoadOrNew(dir string, vocab Vocabulary) (*Bundle, error) {
	b, err := Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return New(vocab), nil
	}
	return b, err
}

// Network returns the network for a task.
func (b *Bundle) Network(task string) (*Network, error) {
	n, ok := b.Networks[task]
	if !ok {
		return nil, fmt.Errorf("model bundle has no %s network (it has: %v)", task, b.Tasks)
	}
	return n, nil
}

// ID tells trained networks apart: a hash of the network's configuration and training record,
// which differ between any two trainings. The catalog index keeps it with each embedding, since an
// embedding means nothing to another network.
func (n *Network) ID() string {
	h := sha256.New()
	h.Write(n.Config)
	// Encoding a struct of plain fields into a hash cannot fail.
	_ = json.NewEncoder(h).Encode(n.Training)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// LoadNetwork loads the variables of the task's network into store.
func (b *Bundle) LoadNetwork(task string, store *mlmodel.Store) (*Network, error) {
	n, err := b.Network(task)
	if err != nil {
		return nil, err
	}
	if b.fsys == nil {
		return nil, fmt.Errorf("model bundle was not loaded from a directory: no %s checkpoint to read", task)
	}
	if err := nn.LoadCheckpoint(store, b.fsys, path.Join(b.dir, n.Checkpoint)); err != nil {
		return nil, fmt.Errorf("loading the %s network: %w", task, err)
	}
	return n, nil
}

// SaveNetwork writes the variables of store under scopes (the network's, which leaves out the
// optimizer state) as n's checkpoint in the bundle directory dir, and records n under its task.
// Call Save afterwards to write bundle.json.
func (b *Bundle) SaveNetwork(dir string, n *Network, store *mlmodel.Store, scopes ...string) error {
	if n.Checkpoint == "" {
		n.Checkpoint = n.Task
	}
	if !fs.ValidPath(n.Checkpoint) {
		return fmt.Errorf("network checkpoint directory %q is not a relative slash-separated path", n.Checkpoint)
	}
	if err := nn.SaveCheckpoint(store, filepath.Join(dir, filepath.FromSlash(n.Checkpoint)), scopes...); err != nil {
		return fmt.Errorf("saving the %s network: %w", n.Task, err)
	}
	b.Networks[n.Task] = n
	return nil
}

// Save writes bundle.json into dir (the networks' checkpoints are written by SaveNetwork). The
// file is replaced atomically.
func (b *Bundle) Save(dir string) error {
	b.FormatVersion = FormatVersion
	b.Tasks = b.Tasks[:0]
	for task := range b.Networks {
		b.Tasks = append(b.Tasks, task)
	}
	slices.Sort(b.Tasks)
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding model bundle: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("saving model bundle: %w", err)
	}
	f, err := os.CreateTemp(dir, BundleFile+".tmp*")
	if err != nil {
		return fmt.Errorf("saving model bundle: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes it private; a bundle is meant to be shared.
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, BundleFile))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("saving model bundle in %s: %w", dir, err)
	}
	b.fsys, b.dir = os.DirFS(dir), "."
	return nil
}
