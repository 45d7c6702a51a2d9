package eval

// FashionNetResult is the JSON document of `atelier eval fashionnet`; a section is nil (and
// omitted) when the data has no labels for it.
type FashionNetResult struct {
	Category   *CategoryResult  `json:"category,omitempty"`
	Attributes *AttributeResult `json:"attributes,omitempty"`
	Landmarks  *LandmarkResult  `json:"landmarks,omitempty"`
	InShop     *RetrievalResult `json:"inshop,omitempty"`
	C2S        *RetrievalResult `json:"c2s,omitempty"`
}
