//go:build race

package imaging

// raceEnabled reports that the tests run under the race detector.
const raceEnabled = true
