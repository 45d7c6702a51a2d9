// Package analyze runs the whole pipeline on photos: detect garments, crop, align their landmarks,
// recognise category and attributes, and embed them for retrieval.
package analyze

// Result is the analysis of one image, as `atelier analyze --json` prints it and /v1/analyze returns it.
type Result struct {
	Image    string             `json:"image"`
	Width    int                `json:"width"`
	Height   int                `json:"height"`
	Garments []Garment          `json:"garments"`
	Timings  map[string]float64 `json:"timings_ms"`
}

// Garment is one detected garment.
type Garment struct {
	// Box is x1, y1, x2, y2 in pixels of the input image.
	Box        [4]float32  `json:"box"`
	Type       string      `json:"type"`
	Score      float32     `json:"score"`
	Category   Category    `json:"category"`
	Attributes []Attribute `json:"attributes"`
	Landmarks  []Landmark  `json:"landmarks"`
	// Embedding is the L2-normalised identity embedding used for retrieval.
	Embedding []float32 `json:"embedding,omitempty"`
}

// Category is the predicted category with its probability and the five most likely ones.
type Category struct {
	Name  string        `json:"name"`
	Score float32       `json:"score"`
	Top5  []ScoredLabel `json:"top5"`
}

// ScoredLabel is a label name with its score.
type ScoredLabel struct {
	Name  string  `json:"name"`
	Score float32 `json:"score"`
}

// Attribute is a predicted attribute above the threshold.
type Attribute struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Score float32 `json:"score"`
}

// Landmark is a predicted fashion landmark in image pixels.
type Landmark struct {
	Name    string  `json:"name"`
	X       float32 `json:"x"`
	Y       float32 `json:"y"`
	Visible bool    `json:"visible"`
}
