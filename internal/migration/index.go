package migration

import (
	"hash/maphash"
	"sync"
	"unsafe"
)

// userIndex is the exact duplicate-user index: an open-addressing table (linear probing) of
// 8-byte slots, each the top 32 bits of the user id's hash and the user's ordinal + 1, and the
// users' row offsets in 5-byte (40-bit: files up to 1 TiB) records by ordinal, in chunks. A
// hash match is confirmed by re-reading the earlier row's user id, so two users whose hashes
// collide are never taken for one. The table doubles past 3/4 full; home slots come from the
// stored hash bits, so growing needs no re-read.
type userIndex struct {
	seed  maphash.Seed
	slots []uint64
	mask  uint64
	n     int
	offs  [][]byte // 5 bytes per ordinal, offChunk ordinals per chunk
	mem   *regions
}

// regions are the index's memory: anonymous mappings where the platform has them (outside
// the Go heap, see mem_unix.go), else heap slices. Released by release, or when the index
// becomes unreachable.
type regions struct {
	mu     sync.Mutex
	mapped map[*byte][]byte
}

func (m *regions) bytes(n int) []byte {
	b, err := mapBytes(n)
	if err != nil {
		return make([]byte, n)
	}
	m.mu.Lock()
	m.mapped[&b[0]] = b
	m.mu.Unlock()
	return b
}

func (m *regions) words(n int) []uint64 {
	b := m.bytes(n * 8)
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n)
}

func (m *regions) free(p *byte) {
	m.mu.Lock()
	b, ok := m.mapped[p]
	delete(m.mapped, p)
	m.mu.Unlock()
	if ok {
		unmapBytes(b)
	}
}

func (m *regions) release() {
	m.mu.Lock()
	all := m.mapped
	m.mapped = map[*byte][]byte{}
	m.mu.Unlock()
	for _, b := range all {
		unmapBytes(b)
	}
}

const (
	offChunk     = 1 << 16
	minSlots     = 1 << 12
	maxOffset    = 1<<40 - 1
	maxOrdinal   = 1<<32 - 2
	hashHiBits   = 32
	ordinalBits  = 32
	ordinalMask  = 1<<ordinalBits - 1
	slotHashMask = ^uint64(ordinalMask)
)

func (ix *userIndex) init() {
	ix.seed = maphash.MakeSeed()
	ix.mem = &regions{mapped: map[*byte][]byte{}}
	ix.slots = ix.mem.words(minSlots)
	ix.mask = minSlots - 1
}

// release frees the index's memory now; the index must not be used after.
func (ix *userIndex) release() {
	ix.mem.release()
	ix.slots, ix.offs, ix.n = nil, nil, 0
}

func (ix *userIndex) bytes() int64 {
	return int64(len(ix.slots))*8 + int64(len(ix.offs))*5*offChunk
}

// home is the slot a stored hash starts probing at: its top bits, as many as the table needs.
func (ix *userIndex) home(hashHi uint64) uint64 {
	return (hashHi >> (64 - bitsOf(ix.mask))) & ix.mask
}

func bitsOf(mask uint64) uint {
	var b uint
	for mask != 0 {
		b++
		mask >>= 1
	}
	return b
}

func (ix *userIndex) offset(ord uint64) int64 {
	c := ix.offs[ord/offChunk]
	i := (ord % offChunk) * 5
	return int64(c[i])<<32 | int64(c[i+1])<<24 | int64(c[i+2])<<16 | int64(c[i+3])<<8 | int64(c[i+4])
}

func (ix *userIndex) appendOffset(off int64) {
	ord := uint64(ix.n)
	if ord%offChunk == 0 {
		ix.offs = append(ix.offs, ix.mem.bytes(5*offChunk))
	}
	c := ix.offs[ord/offChunk]
	i := (ord % offChunk) * 5
	c[i], c[i+1], c[i+2], c[i+3], c[i+4] = byte(off>>32), byte(off>>24), byte(off>>16), byte(off>>8), byte(off)
}

// add records id at row offset off, unless an earlier row has the same id: then it answers
// that row's offset and dup. userAt re-reads the id of the row at an offset.
func (ix *userIndex) add(id string, off int64, userAt func(int64) (string, error)) (first int64, dup bool, err error) {
	if off > maxOffset || ix.n > maxOrdinal {
		return 0, false, errIndexFull
	}
	hi := maphash.String(ix.seed, id) & slotHashMask
	i := ix.home(hi)
	for {
		s := ix.slots[i]
		if s == 0 {
			break
		}
		if s&slotHashMask == hi {
			prev := ix.offset(s&ordinalMask - 1)
			other, err := userAt(prev)
			if err != nil {
				return 0, false, err
			}
			if other == id {
				return prev, true, nil
			}
		}
		i = (i + 1) & ix.mask
	}
	ix.appendOffset(off)
	ix.n++
	ix.slots[i] = hi | uint64(ix.n)
	if uint64(ix.n)*4 > uint64(len(ix.slots))*3 {
		ix.grow()
	}
	return 0, false, nil
}

func (ix *userIndex) grow() {
	old := ix.slots
	ix.slots = ix.mem.words(2 * len(old))
	ix.mask = uint64(len(ix.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := ix.home(s & slotHashMask)
		for ix.slots[i] != 0 {
			i = (i + 1) & ix.mask
		}
		ix.slots[i] = s
	}
	ix.mem.free((*byte)(unsafe.Pointer(&old[0])))
}

type indexFullError struct{}

func (indexFullError) Error() string {
	return "the duplicate-user index is full (more than 4,294,967,294 users or a file over 1 TiB)"
}

var errIndexFull error = indexFullError{}

// maphashString is the stored hash bits of id (tests).
func maphashString(ix *userIndex, id string) uint64 {
	return maphash.String(ix.seed, id) & slotHashMask
}
