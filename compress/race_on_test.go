//go:build race

package compress

// raceEnabled is true when the race detector, which slows the encoders
// several times over, is on.
const raceEnabled = true
