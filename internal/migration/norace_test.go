//go:build !race

package migration

// raceEnabled: the race detector slows the reader about tenfold; size tests shrink.
const raceEnabled = false
