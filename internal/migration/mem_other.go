//go:build !unix

package migration

import "errors"

// indexOnHeap is true here: the duplicate-user index is allocated on the Go heap.
const indexOnHeap = true

func mapBytes(int) ([]byte, error) { return nil, errors.New("no anonymous mappings here") }

func unmapBytes([]byte) {}
