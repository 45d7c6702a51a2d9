package fashion

// Landmark is one of the eight DeepFashion fashion-landmark slots, in full-body order.
type Landmark int

// The eight landmark slots.
const (
	LeftCollar Landmark = iota
	RightCollar
	LeftSleeve
	RightSleeve
	LeftWaistline
	RightWaistline
	LeftHem
	RightHem
)

// NumLandmarks is the number of landmark slots every garment carries.
const NumLandmarks = 8

// LandmarkNames are the slots' names, indexed by Landmark.
var LandmarkNames = [NumLandmarks]string{"left collar", "right collar", "left sleeve", "right sleeve",
	"left waistline", "right waistline", "left hem", "right hem"}

// String returns the landmark's name, e.g. "left sleeve".
func (l Landmark) String() string {
	if l < 0 || int(l) >= NumLandmarks {
		return "unknown"
	}
	return LandmarkNames[l]
}

// Mirror returns the slot that a horizontal flip moves this landmark to (left <-> right).
func (l Landmark) Mirror() Landmark { return l ^ 1 }

var slotsByType = map[GarmentType][]Landmark{
	Upper: {LeftCollar, RightCollar, LeftSleeve, RightSleeve, LeftHem, RightHem},
	Lower: {LeftWaistline, RightWaistline, LeftHem, RightHem},
	Full:  {LeftCollar, RightCollar, LeftSleeve, RightSleeve, LeftWaistline, RightWaistline, LeftHem, RightHem},
}

// LandmarkSlots returns, in file order, the slots that a garment of type t labels: DeepFashion's
// upper-body rows carry 6 triples (collars, sleeves, hems), lower-body 4 (waistlines, hems) and
// full-body 8. It returns nil for an unknown type.
func LandmarkSlots(t GarmentType) []Landmark { return slotsByType[t] }

// DF2Class is one of DeepFashion2's 13 categories with its number of landmarks.
type DF2Class struct {
	ID        int
	Name      string
	Landmarks int
	Type      GarmentType
}

// DF2Classes are DeepFashion2's categories in id order (ID 1..13).
var DF2Classes = []DF2Class{
	{1, "short sleeve top", 25, Upper},
	{2, "long sleeve top", 33, Upper},
	{3, "short sleeve outwear", 31, Upper},
	{4, "long sleeve outwear", 39, Upper},
	{5, "vest", 15, Upper},
	{6, "sling", 15, Upper},
	{7, "shorts", 10, Lower},
	{8, "trousers", 14, Lower},
	{9, "skirt", 8, Lower},
	{10, "short sleeve dress", 29, Full},
	{11, "long sleeve dress", 37, Full},
	{12, "vest dress", 19, Full},
	{13, "sling dress", 19, Full},
}

// DF2ClassByID returns the DeepFashion2 class with a 1-based id.
func DF2ClassByID(id int) (DF2Class, bool) {
	if id < 1 || id > len(DF2Classes) {
		return DF2Class{}, false
	}
	return DF2Classes[id-1], true
}
