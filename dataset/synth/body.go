package synth

import (
	"math"
	"math/rand/v2"
)

// body is a posed figure in canonical units. Index 0 of the limbs is the image-left side.
type body struct {
	head            pt
	headR           float64
	neckY, neckW    float64
	shoulderY       float64
	chestW, waistW  float64
	hipW            float64
	armpitY, waistY float64
	hipY, crotchY   float64
	// arm holds shoulder, elbow and wrist; leg holds hip joint, knee and ankle.
	arm, leg     [2][3]pt
	armW0, armW1 float64
	legW0, legW1 float64
}

// poseRange bounds the random pose of a view, in degrees.
type poseRange struct {
	armMin, armMax   float64 // arm angle away from the body (negative crosses in front)
	bendMin, bendMax float64 // elbow bend towards the body
	spreadMax        float64 // legs apart
	raise            float64 // probability that one arm is raised high
}

var (
	shopPose   = poseRange{7, 16, 0, 10, 5, 0}
	flatPose   = poseRange{38, 48, 0, 0, 5, 0}
	streetPose = poseRange{2, 32, -10, 45, 11, 0.1}
	largePose  = poseRange{-25, 70, -30, 90, 18, 0.3}
)

// newBody draws body proportions and a pose.
func newBody(r *rand.Rand, pr poseRange) *body {
	b := &body{
		head: pt{0, 62}, headR: uniform(r, 50, 58),
		neckY: 150, neckW: uniform(r, 20, 26),
		shoulderY: 168,
		chestW:    uniform(r, 74, 90), waistW: uniform(r, 58, 76), hipW: uniform(r, 80, 98),
		armpitY: 258, waistY: 395, hipY: 495, crotchY: 535,
		armW0: uniform(r, 24, 30), armW1: uniform(r, 15, 19),
		legW0: uniform(r, 40, 48), legW1: uniform(r, 19, 23),
	}
	shoulderX := b.chestW + uniform(r, 16, 28)
	upper, fore := uniform(r, 180, 195), uniform(r, 160, 175)
	raised := -1
	if chance(r, pr.raise) {
		raised = r.IntN(2)
	}
	for side := range 2 {
		sgn := float64(2*side - 1) // -1 left, +1 right
		a := uniform(r, pr.armMin, pr.armMax)
		bend := uniform(r, pr.bendMin, pr.bendMax)
		if side == raised {
			a, bend = uniform(r, 100, 150), uniform(r, -20, 40)
		}
		sh := pt{sgn * shoulderX, b.shoulderY + 8}
		ar := a * math.Pi / 180
		el := sh.add(pt{sgn * math.Sin(ar), math.Cos(ar)}.mul(upper))
		fr := (a - bend) * math.Pi / 180
		wr := el.add(pt{sgn * math.Sin(fr), math.Cos(fr)}.mul(fore))
		b.arm[side] = [3]pt{sh, el, wr}

		spread := uniform(r, 1, pr.spreadMax) * math.Pi / 180
		knee := uniform(r, -4, 6) * math.Pi / 180
		hip := pt{sgn * b.hipW * 0.5, b.hipY}
		kn := hip.add(pt{sgn * math.Sin(spread), math.Cos(spread)}.mul(b.crotchY - b.hipY + 195))
		an := kn.add(pt{sgn * math.Sin(spread+knee), math.Cos(spread + knee)}.mul(250))
		b.leg[side] = [3]pt{hip, kn, an}
	}
	return b
}

// armLine is the arm's centre line from just inside the shoulder to the wrist.
func (b *body) armLine(side int) []pt {
	a := b.arm[side]
	in := a[0].sub(a[1].sub(a[0]).unit().mul(18))
	return []pt{in, a[0], a[1], a[2]}
}

// legLine is a leg's centre line from above the hip joint to the ankle.
func (b *body) legLine(side int) []pt {
	l := b.leg[side]
	return []pt{l[0].sub(pt{0, 20}), l[0], l[1], l[2]}
}

// legAtY returns the distance along a leg line where it reaches height y.
func (b *body) legAtY(side int, y float64) float64 {
	line := b.legLine(side)
	d := 0.0
	for i := 0; i+1 < len(line); i++ {
		p, q := line[i], line[i+1]
		l := q.sub(p).len()
		if y <= q.Y || i+2 == len(line) {
			t := clampf((y-p.Y)/math.Max(q.Y-p.Y, 1e-6), 0, 1.2)
			return d + t*l
		}
		d += l
	}
	return d
}

// torso is the skin outline from the shoulders to the crotch.
func (b *body) torso() []pt {
	l := []pt{{-b.neckW, b.neckY - 20}, {-b.neckW * 1.8, b.shoulderY - 6}, {b.arm[0][0].X + 6, b.shoulderY}, {-b.chestW, b.armpitY},
		{-b.waistW, b.waistY}, {-b.hipW, b.hipY}, {0, b.crotchY}}
	out := append([]pt(nil), l...)
	for i := len(l) - 2; i >= 0; i-- {
		p := l[i].mirror()
		if i == 2 {
			p.X = b.arm[1][0].X - 6
		}
		out = append(out, p)
	}
	return out
}
