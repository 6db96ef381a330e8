//go:build !unix

package migration

import "errors"

// indexOnHeap is true here: the duplicate-user index is allocated on the Go heap.
const indexOnHeap = true

func mapBytes(int) ([]byte, error) { return nil, errors.New("no anonymous mappings here") }

func unmapBytes([]byte) {}

// unlinkOpenFiles is false here: an open file cannot be removed; the index's temporary files
// are removed when the index is released.
const unlinkOpenFiles = false
