package migration

import (
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sync"
	"unsafe"
)

// DefaultIndexMemory is the duplicate-user index's default budget of resident memory
// (WithIndexMemory sets another). Within it the index is an exact in-memory table; past it
// the table spills to a temporary file and the resident part stays within the budget,
// whatever the number of users (docs/migration.md §6).
const DefaultIndexMemory = 4 << 20

// minIndexMemory is the smallest budget the index accepts (a smaller one is raised to it).
const minIndexMemory = 64 << 10

// userIndex is the exact duplicate-user index.
//
// Its slots are 8 bytes: the top 32 bits of the user id's hash and the user's ordinal + 1
// (0 is an empty slot); each ordinal's row offset is a 5-byte (40-bit: files up to 1 TiB)
// record. A hash match is confirmed by re-reading the earlier row's user id, so two users
// whose hashes collide are never taken for one. Tables are open-addressing (linear probing)
// with home slots from the stored hash's top bits, kept at most 3/4 full.
//
// While it fits the budget (slots, the old table while it doubles, and the offset records),
// the index is one table in memory. Past the budget it spills:
//
//   - the table moves to a temporary file (the "disk table", twice the slots), read and
//     written with ReadAt/WriteAt (merges through 4 cache lines of up to 64 KiB, lookups a
//     512-byte read), never mapped: the kernel's page cache holds the file, and that is not
//     the process's resident memory (a mapping's resident pages would be);
//   - the offset records move to a second temporary file, appended 4,096 records at a time;
//   - new users go to an in-memory buffer table (same slots) that is merged into the disk
//     table when it is 3/4 full, in slot order, which is the disk table's home order too (both
//     take homes from the hash's top bits), so a merge walks the file once, line by line;
//     when the merge would take it past 3/4 the disk table doubles in the same pass, the old
//     file streamed into a new one;
//   - a blocked Bloom filter (one 64-byte block a user, 8 bits in it, fewer as it fills) over
//     every user lets a new user — nearly every row — skip the disk table: only a filter hit
//     (a duplicate, or a false positive: 0.4% at a million users and the default budget, half
//     at ten million) costs a read (512 bytes).
//
// The resident part is then the filter, the buffer, the cache lines, one block of offset
// records and a read buffer, sized at spill time to fit the budget; the files grow with the
// users (11–21 bytes a user for the table, 5 for the offset) in the page cache and on disk. On Unix the files are
// unlinked as soon as they are created, so a killed process leaves nothing behind; Close (or
// the Reader's collection) closes them.
type userIndex struct {
	seed   maphash.Seed
	keep   uint64 // stored hash bits kept: all of them, but tests clear some to force collisions
	budget int64
	dir    string
	n      int
	mem    *regions
	err    error // the first error: the index may be incomplete

	// In memory (before the spill).
	slots []uint64
	mask  uint64
	shift uint     // home = hash >> shift
	offs  [][]byte // offChunk records per chunk

	// Spilled.
	spilled   bool
	offFile   *os.File
	tail      []byte // the records of ordinals tailStart.. (offChunk of them)
	tailStart uint64
	rec       [5]byte
	buf       []uint64 // new users since the last merge
	bufMask   uint64
	bufShift  uint
	bufN      int
	filter    []uint64 // blocked Bloom filter, 8 words a block
	blocks    uint64
	k         int // bits a user
	scratch   []byte
	disk      diskTable
}

const (
	offChunk     = 4096 // 20 KiB: whole pages
	offChunkSize = 5 * offChunk
	minSlots     = 1 << 12
	pageBytes    = 4096
	pageSlots    = pageBytes / 8
	lookBytes    = 512 // what a lookup reads: a probe rarely goes past 64 slots
	lookSlots    = lookBytes / 8
	maxOffset    = 1<<40 - 1
	maxOrdinal   = 1<<32 - 2
	hashHiBits   = 32
	ordinalBits  = 32
	ordinalMask  = 1<<ordinalBits - 1
	slotHashMask = ^uint64(ordinalMask)
)

// regions are the index's resources: its memory — anonymous mappings where the platform has
// them (outside the Go heap, see mem_unix.go), else heap slices — and its temporary files.
// Released by release, or when the index becomes unreachable. held counts the memory.
type regions struct {
	mu     sync.Mutex
	mapped map[*byte][]byte
	held   int64
	peak   int64
	files  map[*os.File]string
}

func newRegions() *regions {
	return &regions{mapped: map[*byte][]byte{}, files: map[*os.File]string{}}
}

func (m *regions) bytes(n int) []byte {
	b, err := mapBytes(n)
	if err != nil {
		b = make([]byte, n)
	}
	m.mu.Lock()
	m.mapped[&b[0]] = b
	m.held += int64(n)
	m.peak = max(m.peak, m.held)
	m.mu.Unlock()
	return b
}

func (m *regions) words(n int) []uint64 {
	return asWords(m.bytes(n * 8))
}

func asWords(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func wordsBytes(w []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

func (m *regions) free(p *byte) {
	m.mu.Lock()
	b, ok := m.mapped[p]
	delete(m.mapped, p)
	if ok {
		m.held -= int64(len(b))
	}
	m.mu.Unlock()
	if ok {
		unmapBytes(b)
	}
}

func (m *regions) freeWords(w []uint64) {
	if len(w) > 0 {
		m.free((*byte)(unsafe.Pointer(&w[0])))
	}
}

// createFile makes a temporary file in dir (os.TempDir() if ""), unlinked at once where an
// open file can be (Unix), else removed when it is closed.
func (m *regions) createFile(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "payhub-migration-index-*")
	if err != nil {
		return nil, fmt.Errorf("the duplicate-user index spills to a temporary file: %w", err)
	}
	name := f.Name()
	if unlinkOpenFiles {
		if err := os.Remove(name); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("the duplicate-user index's temporary file: %w", err)
		}
		name = ""
	}
	m.mu.Lock()
	m.files[f] = name
	m.mu.Unlock()
	return f, nil
}

func (m *regions) closeFile(f *os.File) {
	m.mu.Lock()
	name, ok := m.files[f]
	delete(m.files, f)
	m.mu.Unlock()
	if ok {
		_ = f.Close()
		if name != "" {
			_ = os.Remove(name)
		}
	}
}

func (m *regions) release() {
	m.mu.Lock()
	all, files := m.mapped, m.files
	m.mapped, m.files, m.held = map[*byte][]byte{}, map[*os.File]string{}, 0
	m.mu.Unlock()
	for _, b := range all {
		unmapBytes(b)
	}
	for f, name := range files {
		_ = f.Close()
		if name != "" {
			_ = os.Remove(name)
		}
	}
}

// init readies an empty index with a budget of resident memory (0: DefaultIndexMemory) that
// spills to files in dir ("": os.TempDir()).
func (ix *userIndex) init(budget int64, dir string) {
	if budget <= 0 {
		budget = DefaultIndexMemory
	}
	ix.seed = maphash.MakeSeed()
	ix.keep = ^uint64(0)
	ix.budget = max(budget, minIndexMemory)
	ix.dir = dir
	ix.mem = newRegions()
	ix.slots = ix.mem.words(minSlots)
	ix.setMask(minSlots)
}

func (ix *userIndex) setMask(slots int) {
	ix.mask = uint64(slots - 1)
	ix.shift = 64 - bitsOf(ix.mask)
}

// release frees the index's memory and files now; the index must not be used after.
func (ix *userIndex) release() {
	ix.mem.release()
	ix.slots, ix.offs, ix.n = nil, nil, 0
	ix.buf, ix.filter, ix.tail, ix.scratch = nil, nil, nil, nil
	ix.disk = diskTable{}
	ix.offFile = nil
}

// bytes is the index's resident memory now.
func (ix *userIndex) bytes() int64 {
	ix.mem.mu.Lock()
	defer ix.mem.mu.Unlock()
	return ix.mem.held
}

// fileBytes is the size of the index's temporary files now.
func (ix *userIndex) fileBytes() int64 {
	if !ix.spilled {
		return 0
	}
	return int64(ix.disk.mask+1)*8 + int64(ix.tailStart)*5
}

// home is the slot a stored hash starts probing at in the in-memory table: its top bits, as
// many as the table needs.
func (ix *userIndex) home(hashHi uint64) uint64 {
	return hashHi >> ix.shift
}

func bitsOf(mask uint64) uint {
	var b uint
	for mask != 0 {
		b++
		mask >>= 1
	}
	return b
}

func (ix *userIndex) offset(ord uint64) (int64, error) {
	var r []byte
	switch {
	case !ix.spilled:
		c := ix.offs[ord/offChunk]
		i := (ord % offChunk) * 5
		r = c[i : i+5]
	case ord >= ix.tailStart:
		i := (ord - ix.tailStart) * 5
		r = ix.tail[i : i+5]
	default:
		r = ix.rec[:]
		if _, err := ix.offFile.ReadAt(r, int64(ord)*5); err != nil {
			return 0, ioError(err)
		}
	}
	return int64(r[0])<<32 | int64(r[1])<<24 | int64(r[2])<<16 | int64(r[3])<<8 | int64(r[4]), nil
}

func putOffset(b []byte, off int64) {
	b[0], b[1], b[2], b[3], b[4] = byte(off>>32), byte(off>>24), byte(off>>16), byte(off>>8), byte(off)
}

func ioError(err error) error {
	return fmt.Errorf("the duplicate-user index's temporary file: %w", err)
}

// add records id at row offset off, unless an earlier row has the same id: then it answers
// that row's offset and dup. userAt re-reads the id of the row at an offset. After an error
// (a temporary file that cannot be made, read or written) the index answers only that error:
// a spill or a merge cut short leaves it incomplete.
func (ix *userIndex) add(id string, off int64, userAt func(int64) (string, error)) (first int64, dup bool, err error) {
	if ix.err != nil {
		return 0, false, ix.err
	}
	if first, dup, err = ix.add1(id, off, userAt); err != nil {
		ix.err = err
	}
	return first, dup, err
}

func (ix *userIndex) add1(id string, off int64, userAt func(int64) (string, error)) (first int64, dup bool, err error) {
	if off > maxOffset || ix.n > maxOrdinal {
		return 0, false, errIndexFull
	}
	hi := maphash.String(ix.seed, id) & slotHashMask & ix.keep
	if ix.spilled {
		return ix.addSpilled(id, hi, off, userAt)
	}
	i := ix.home(hi)
	for {
		s := ix.slots[i]
		if s == 0 {
			break
		}
		if s&slotHashMask == hi {
			if first, dup, err := ix.confirm(id, s, userAt); dup || err != nil {
				return first, dup, err
			}
		}
		i = (i + 1) & ix.mask
	}
	if uint64(ix.n)%offChunk == 0 && ix.bytes()+offChunkSize > ix.budget {
		if err := ix.spill(); err != nil {
			return 0, false, err
		}
		return 0, false, ix.insertSpilled(hi, off)
	}
	ix.appendOffset(off)
	ix.n++
	ix.slots[i] = hi | uint64(ix.n)
	if uint64(ix.n)*4 > uint64(len(ix.slots))*3 {
		if ix.bytes()+int64(len(ix.slots))*16 > ix.budget {
			return 0, false, ix.spill()
		}
		ix.grow()
	}
	return 0, false, nil
}

// confirm re-reads the row of slot s: dup if its user id is id.
func (ix *userIndex) confirm(id string, s uint64, userAt func(int64) (string, error)) (int64, bool, error) {
	prev, err := ix.offset(s&ordinalMask - 1)
	if err != nil {
		return 0, false, err
	}
	other, err := userAt(prev)
	if err != nil {
		return 0, false, err
	}
	return prev, other == id, nil
}

func (ix *userIndex) appendOffset(off int64) {
	ord := uint64(ix.n)
	if ord%offChunk == 0 {
		ix.offs = append(ix.offs, ix.mem.bytes(offChunkSize))
	}
	c := ix.offs[ord/offChunk]
	i := (ord % offChunk) * 5
	putOffset(c[i:i+5], off)
}

func (ix *userIndex) grow() {
	old := ix.slots
	ix.slots = ix.mem.words(2 * len(old))
	ix.setMask(len(ix.slots))
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
	ix.mem.freeWords(old)
}

// spill moves the in-memory index to files, keeping in memory only what fits the budget.
// Each step frees before it allocates, so the resident memory stays within the budget.
func (ix *userIndex) spill() error {
	var err error
	// The offset records: whole chunks to the file, the current one stays as the tail.
	if ix.offFile, err = ix.mem.createFile(ix.dir); err != nil {
		return err
	}
	full := uint64(ix.n) / offChunk
	for c := range full {
		if _, err := ix.offFile.WriteAt(ix.offs[c], int64(c)*offChunkSize); err != nil {
			return ioError(err)
		}
		ix.mem.free(&ix.offs[c][0])
	}
	ix.tailStart = full * offChunk
	if uint64(len(ix.offs)) > full {
		ix.tail = ix.offs[full]
	}
	ix.offs = nil

	// The resident parts' sizes: 4 cache lines (4–64 KiB each: merges write big pieces, the
	// kernel's cost is per call as much as per byte) and a read buffer of a line, the tail,
	// then the rest shared by the buffer table (a power of two, about 60%) and the filter.
	lineBytes := int64(pageBytes)
	for lineBytes < 64<<10 && lineBytes*2*64 <= ix.budget {
		lineBytes *= 2
	}
	const lines = 4
	rest := ix.budget - (lines+1)*lineBytes - offChunkSize
	bufSlots := int64(pageSlots)
	for bufSlots*2*8 <= rest*3/5 {
		bufSlots *= 2
	}
	filterBytes := (rest - bufSlots*8) / pageBytes * pageBytes

	// The table: into a disk table twice its size, then freed.
	d := &ix.disk
	d.lines = make([]cacheLine, lines)
	d.lineSlots = uint64(lineBytes / 8)
	mem := ix.mem.bytes(lines * int(lineBytes))
	for k := range d.lines {
		d.lines[k] = cacheLine{line: -1, words: asWords(mem[int64(k)*lineBytes : int64(k+1)*lineBytes])}
	}
	if err := d.create(ix.mem, ix.dir, 2*uint64(len(ix.slots))); err != nil {
		return err
	}
	for _, s := range ix.slots {
		if s != 0 {
			if err := ix.disk.insert(s); err != nil {
				return err
			}
		}
	}
	if err := ix.disk.writeBack(); err != nil {
		return err
	}
	ix.disk.n = ix.n
	ix.mem.freeWords(ix.slots)
	ix.slots = nil
	ix.spilled = true

	if ix.tail == nil {
		ix.tail = ix.mem.bytes(offChunkSize)
	}
	ix.scratch = ix.mem.bytes(int(lineBytes))
	d.look = asWords(ix.scratch[:lookBytes])
	ix.filter = ix.mem.words(int(filterBytes / 8))
	ix.blocks = uint64(len(ix.filter) / 8)
	ix.buf = ix.mem.words(int(bufSlots))
	ix.bufMask = uint64(bufSlots - 1)
	ix.bufShift = 64 - bitsOf(ix.bufMask)
	ix.k = 9 // tuneFilter sets it, and fills the filter from the users on disk
	return ix.tuneFilter()
}

func (ix *userIndex) addSpilled(id string, hi uint64, off int64, userAt func(int64) (string, error)) (int64, bool, error) {
	// The users since the last merge.
	for i := hi >> ix.bufShift; ; i = (i + 1) & ix.bufMask {
		s := ix.buf[i]
		if s == 0 {
			break
		}
		if s&slotHashMask == hi {
			if first, dup, err := ix.confirm(id, s, userAt); dup || err != nil {
				return first, dup, err
			}
		}
	}
	// The users on disk, if the filter may hold this one.
	if ix.filterHas(hi) {
		d := &ix.disk
		for i := hi >> d.shift; ; i = (i + 1) & d.mask {
			s, err := d.lookup(i)
			if err != nil {
				return 0, false, err
			}
			if s == 0 {
				break
			}
			if s&slotHashMask == hi {
				if first, dup, err := ix.confirm(id, s, userAt); dup || err != nil {
					return first, dup, err
				}
			}
		}
	}
	return 0, false, ix.insertSpilled(hi, off)
}

// insertSpilled adds a new user (one neither the buffer nor the disk table holds).
func (ix *userIndex) insertSpilled(hi uint64, off int64) error {
	ord := uint64(ix.n)
	if ord-ix.tailStart == offChunk {
		if _, err := ix.offFile.WriteAt(ix.tail, int64(ix.tailStart)*5); err != nil {
			return ioError(err)
		}
		ix.tailStart += offChunk
	}
	i := (ord - ix.tailStart) * 5
	putOffset(ix.tail[i:i+5], off)
	ix.n++
	j := hi >> ix.bufShift
	for ix.buf[j] != 0 {
		j = (j + 1) & ix.bufMask
	}
	ix.buf[j] = hi | uint64(ix.n)
	ix.bufN++
	ix.filterAdd(hi)
	if uint64(ix.bufN)*4 > uint64(len(ix.buf))*3 {
		return ix.merge()
	}
	return nil
}

// merge moves the buffer's users into the disk table. The buffer is walked in slot order,
// nearly the disk table's home order (both take homes from the hash's top bits), so the cache
// lines see the file's pages in order. If the users would take the table past 3/4 it doubles
// (or more) in the same pass: the old file is streamed into a new one, each of its pieces
// followed by the buffer's users of the same hash range, so the new file is written once.
func (ix *userIndex) merge() error {
	d := &ix.disk
	need := uint64(d.n + ix.bufN)
	var next uint64 // the buffer's slots merged so far
	mergeTo := func(end uint64) error {
		for ; next < end; next++ {
			if s := ix.buf[next]; s != 0 {
				if err := d.insert(s); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if slots := d.mask + 1; need*4 > slots*3 {
		for need*4 > slots*3 {
			slots *= 2
		}
		old, oldSlots := d.f, d.mask+1
		if err := d.create(ix.mem, ix.dir, slots); err != nil {
			return err
		}
		var done uint64 // old slots streamed
		bufSlots := uint64(len(ix.buf))
		err := ix.each(old, int64(oldSlots)*8, func(s uint64) error {
			done++
			if s != 0 {
				if err := d.insert(s); err != nil {
					return err
				}
			}
			if done%pageSlots == 0 {
				return mergeTo(done * bufSlots / oldSlots)
			}
			return nil
		})
		if err != nil {
			return err
		}
		ix.mem.closeFile(old)
	}
	if err := mergeTo(uint64(len(ix.buf))); err != nil {
		return err
	}
	if err := d.writeBack(); err != nil {
		return err
	}
	d.n += ix.bufN
	clear(ix.buf)
	ix.bufN = 0
	return ix.tuneFilter()
}

// each calls fn with every slot of the first size bytes of f, read a scratch buffer at a time.
func (ix *userIndex) each(f *os.File, size int64, fn func(uint64) error) error {
	ix.disk.lookPage = -1
	for p := int64(0); p < size; p += int64(len(ix.scratch)) {
		b := ix.scratch[:min(int64(len(ix.scratch)), size-p)]
		if _, err := f.ReadAt(b, p); err != nil {
			return ioError(err)
		}
		for _, s := range asWords(b) {
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// The filter: a blocked Bloom filter of 64-byte (512-bit) blocks, one block a user and k
// bits in it (double hashing). Its positions come from the stored hash bits alone (all the
// disk table keeps), remixed; users whose stored bits are equal share them, and are told
// apart by the table's confirmation like any other collision. k starts at 8 and comes down as
// the users outnumber the filter's bits (tuneFilter): with b bits a user, about b·ln 2 bits
// each keeps the false positives fewest (8 at 14 bits a user: 0.4%; 1 at 1.4: half).
func (ix *userIndex) filterPos(hi uint64) (block, h1, h2 uint64) {
	x := mix64(hi)
	y := mix64(x)
	return (((x >> 32) * ix.blocks) >> 32) * 8, y, y>>32 | 1
}

func (ix *userIndex) filterAdd(hi uint64) {
	b, h1, h2 := ix.filterPos(hi)
	w := ix.filter[b : b+8 : b+8]
	for range ix.k {
		w[h1>>6&7] |= 1 << (h1 & 63)
		h1 += h2
	}
}

func (ix *userIndex) filterHas(hi uint64) bool {
	b, h1, h2 := ix.filterPos(hi)
	w := ix.filter[b : b+8 : b+8]
	for range ix.k {
		if w[h1>>6&7]&(1<<(h1&63)) == 0 {
			return false
		}
		h1 += h2
	}
	return true
}

// tuneFilter, after a merge (the buffer empty, every user on disk), gives the filter the
// number of bits a user that suits it until the next merge, and rebuilds it from the disk
// table if that changed (one read of the file; a handful of times in all).
func (ix *userIndex) tuneFilter() error {
	users := float64(ix.n + len(ix.buf)*3/4)
	k := min(max(int(float64(len(ix.filter))*64/users*0.69), 1), 8)
	if k >= ix.k {
		return nil
	}
	ix.k = k
	clear(ix.filter)
	d := &ix.disk
	return ix.each(d.f, int64(d.mask+1)*8, func(s uint64) error {
		if s != 0 {
			ix.filterAdd(s & slotHashMask)
		}
		return nil
	})
}

// mix64 is SplitMix64's finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// diskTable is the spilled slot table: a file of 8-byte slots (native byte order: the file
// is this process's own and lives no longer). Merges read and write it through 4
// direct-mapped cache lines; between merges every line is clean, and a lookup reads the one
// 4 KiB page it needs (look).
type diskTable struct {
	f         *os.File
	mask      uint64
	shift     uint
	n         int // users on disk
	lines     []cacheLine
	lineSlots uint64
	look      []uint64 // the page lookPage (-1: none)
	lookPage  int64
}

type cacheLine struct {
	line  int64
	dirty bool
	words []uint64
}

// create starts an empty table of the given slots (a power of two, at least a line) in a new
// file; the caller closes the previous one.
func (d *diskTable) create(mem *regions, dir string, slots uint64) error {
	f, err := mem.createFile(dir)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(slots) * 8); err != nil {
		mem.closeFile(f)
		return ioError(err)
	}
	d.f = f
	d.mask = slots - 1
	d.shift = 64 - bitsOf(d.mask)
	for k := range d.lines {
		d.lines[k].line, d.lines[k].dirty = -1, false
	}
	d.lookPage = -1
	return nil
}

// line is the cache line holding line n of the file, read in if need be.
func (d *diskTable) line(n int64) (*cacheLine, error) {
	l := &d.lines[n%int64(len(d.lines))]
	if l.line == n {
		return l, nil
	}
	if err := d.evict(l); err != nil {
		return nil, err
	}
	if _, err := d.f.ReadAt(wordsBytes(l.words), n*int64(d.lineSlots)*8); err != nil && err != io.EOF {
		return nil, ioError(err)
	}
	l.line = n
	return l, nil
}

func (d *diskTable) evict(l *cacheLine) error {
	if l.dirty {
		if _, err := d.f.WriteAt(wordsBytes(l.words), l.line*int64(d.lineSlots)*8); err != nil {
			return ioError(err)
		}
		l.dirty = false
	}
	l.line = -1
	return nil
}

func (d *diskTable) writeBack() error {
	for k := range d.lines {
		if err := d.evict(&d.lines[k]); err != nil {
			return err
		}
	}
	d.lookPage = -1
	return nil
}

// lookup reads slot i (between merges: the lines are clean, the file is current).
func (d *diskTable) lookup(i uint64) (uint64, error) {
	if p := int64(i / lookSlots); p != d.lookPage {
		d.lookPage = -1
		if _, err := d.f.ReadAt(wordsBytes(d.look), p*lookBytes); err != nil {
			return 0, ioError(err)
		}
		d.lookPage = p
	}
	return d.look[i%lookSlots], nil
}

// insert puts slot s in the first free slot from its home (the caller knows its user is new).
func (d *diskTable) insert(s uint64) error {
	i := (s & slotHashMask) >> d.shift
	for {
		l, err := d.line(int64(i / d.lineSlots))
		if err != nil {
			return err
		}
		for k := i % d.lineSlots; k < d.lineSlots; k++ {
			if l.words[k] == 0 {
				l.words[k] = s
				l.dirty = true
				return nil
			}
		}
		i = ((i/d.lineSlots + 1) * d.lineSlots) & d.mask
	}
}

type indexFullError struct{}

func (indexFullError) Error() string {
	return "the duplicate-user index is full (more than 4,294,967,294 users or a file over 1 TiB)"
}

var errIndexFull error = indexFullError{}

// maphashString is the stored hash bits of id (tests).
func maphashString(ix *userIndex, id string) uint64 {
	return maphash.String(ix.seed, id) & slotHashMask & ix.keep
}
