//go:build !race

package carddata

// raceEnabled: the race detector slows the scanner about tenfold; long tests sample less.
const raceEnabled = false
