package dataset

import (
	"github.com/atelier-ml/atelier/fashion"
)

// Dataset is a whole dataset in memory: its root folder, format, vocabulary and samples.
type Dataset struct {
	Format  string
	Root    string
	Vocab   fashion.Vocabulary
	Samples []Sample
}
