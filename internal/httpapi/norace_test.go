//go:build !race

package httpapi_test

// raceEnabled: the race detector multiplies the CPU each request costs several times, so
// latency bounds are checked only without it (the measured command in the README).
const raceEnabled = false
