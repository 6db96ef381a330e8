//go:build unix

package migration

import "syscall"

// indexOnHeap is false here: the duplicate-user index lives in anonymous memory mappings,
// outside the Go heap, so its size does not raise the garbage collector's heap target (with
// GOGC=100 a heap-resident index would let as much garbage again accumulate: peak RSS would
// grow at twice the index's rate).
const indexOnHeap = false

// mapBytes maps n zeroed bytes of anonymous memory (the kernel backs only the pages touched).
func mapBytes(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func unmapBytes(b []byte) { _ = syscall.Munmap(b) }

// unlinkOpenFiles: the index's temporary files are unlinked as soon as they are created (an
// open file stays usable), so a process killed outright leaves none behind.
const unlinkOpenFiles = true
