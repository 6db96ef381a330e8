package migration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeRows is an export seen by the index alone: the row at offset 10·i has user ids[i].
type fakeRows struct {
	ids   []string
	reads int
}

func (f *fakeRows) userAt(off int64) (string, error) {
	f.reads++
	if off%10 != 0 || off/10 >= int64(len(f.ids)) {
		return "", fmt.Errorf("no row at %d", off)
	}
	return f.ids[off/10], nil
}

// add offers the index a new row for id: its offset, and the first row's if a duplicate.
func (f *fakeRows) add(t testing.TB, ix *userIndex, id string) (off, first int64, dup bool) {
	t.Helper()
	off = int64(len(f.ids)) * 10
	f.ids = append(f.ids, id)
	first, dup, err := ix.add(id, off, f.userAt)
	if err != nil {
		t.Fatalf("add(%q): %v", id, err)
	}
	return off, first, dup
}

func newTestIndex(t testing.TB, budget int64) *userIndex {
	ix := &userIndex{}
	ix.init(budget, t.TempDir())
	t.Cleanup(ix.release)
	return ix
}

// checkIndex adds n distinct users then, every `every` users, a second row for an earlier
// user (chosen to span the spill and the disk table's growths): each first row is new, each
// second row is the duplicate of the first, with its offset.
func checkIndex(t *testing.T, ix *userIndex, n int, every int) *fakeRows {
	f := &fakeRows{}
	firstOff := map[string]int64{}
	spilledAt, grows, slots := -1, 0, uint64(0)
	for i := range n {
		id := fmt.Sprintf("user-%d", i)
		off, _, dup := f.add(t, ix, id)
		if dup {
			t.Fatalf("user %d (%s) was taken for an earlier user", i, id)
		}
		firstOff[id] = off
		if ix.spilled && spilledAt < 0 {
			spilledAt, slots = i, ix.disk.mask+1
		}
		if ix.spilled && ix.disk.mask+1 != slots {
			grows++
			slots = ix.disk.mask + 1
		}
		if i > 0 && i%every == 0 {
			// The previous user (in the buffer), one around the spill, one well back.
			for _, j := range []int{i - 1, max(spilledAt, 0), i / 3, i / 2} {
				prev := fmt.Sprintf("user-%d", j)
				_, first, dup := f.add(t, ix, prev)
				if !dup || first != firstOff[prev] {
					t.Fatalf("after %d users, a second row for %s: dup %v first %d, want the row at %d", i, prev, dup, first, firstOff[prev])
				}
			}
		}
	}
	if !ix.spilled || grows < 2 {
		t.Fatalf("the index did not spill and grow on disk (spilled at %d, %d growths): the test tests nothing", spilledAt, grows)
	}
	if ix.n != n {
		t.Errorf("the index holds %d users, want %d", ix.n, n)
	}
	// Every user again, after all the growths.
	for i := 0; i < n; i += 7 {
		id := fmt.Sprintf("user-%d", i)
		if _, first, dup := f.add(t, ix, id); !dup || first != firstOff[id] {
			t.Fatalf("the end: a second row for %s: dup %v first %d, want %d", id, dup, first, firstOff[id])
		}
	}
	// Ids that differ by a byte from a user are other users.
	for _, id := range []string{"user-1 ", "User-1", "user-01", "user-" + fmt.Sprint(n)} {
		if _, _, dup := f.add(t, ix, id); dup {
			t.Fatalf("%q was taken for an earlier user", id)
		}
	}
	t.Logf("%d users: spilled at %d, %d growths on disk, resident %d KiB (peak %d KiB), files %d KiB, %d re-reads",
		n, spilledAt, grows, ix.bytes()>>10, ix.mem.peak>>10, ix.fileBytes()>>10, f.reads)
	return f
}

// Past its budget the index spills, and stays exact: duplicates found across the spill, in
// the buffer and on disk, through the disk table's growths.
func TestIndexSpillIsExact(t *testing.T) {
	n := 60_000
	if raceEnabled {
		n = 25_000
	}
	ix := newTestIndex(t, minIndexMemory)
	checkIndex(t, ix, n, 997)
}

// Forced hash collisions (the stored hash keeps 6 bits, then none) never merge two users:
// every match is confirmed by re-reading the earlier row.
func TestIndexSpillCollisions(t *testing.T) {
	for _, tc := range []struct {
		bits int
		n    int
	}{{6, 12_000}, {0, 3_500}} {
		t.Run(fmt.Sprintf("%d_bits", tc.bits), func(t *testing.T) {
			n := tc.n
			if raceEnabled {
				n = max(n/2, 3_500) // still past the spill, at about 3,000 users
			}
			ix := newTestIndex(t, minIndexMemory)
			ix.keep = ^uint64(0) << (64 - tc.bits)
			if tc.bits == 0 {
				ix.keep = 0
			}
			f := checkIndexSmall(t, ix, n)
			t.Logf("%d users, %d re-reads", n, f.reads)
			if f.reads < n {
				t.Errorf("%d re-reads for %d users: the collisions were not forced", f.reads, n)
			}
		})
	}
}

// checkIndexSmall is checkIndex without the demand for growths on disk (collisions make
// every add a long probe, so the tests stay small).
func checkIndexSmall(t *testing.T, ix *userIndex, n int) *fakeRows {
	f := &fakeRows{}
	firstOff := map[string]int64{}
	for i := range n {
		id := fmt.Sprintf("u%d", i)
		off, _, dup := f.add(t, ix, id)
		if dup {
			t.Fatalf("%s was taken for an earlier user", id)
		}
		firstOff[id] = off
		if i%101 == 100 {
			prev := fmt.Sprintf("u%d", i/2)
			if _, first, dup := f.add(t, ix, prev); !dup || first != firstOff[prev] {
				t.Fatalf("a second row for %s: dup %v first %d, want %d", prev, dup, first, firstOff[prev])
			}
		}
	}
	if !ix.spilled {
		t.Fatal("the index did not spill: the test tests nothing")
	}
	for i := 0; i < n; i += 13 {
		id := fmt.Sprintf("u%d", i)
		if _, first, dup := f.add(t, ix, id); !dup || first != firstOff[id] {
			t.Fatalf("the end: a second row for %s: dup %v first %d, want %d", id, dup, first, firstOff[id])
		}
	}
	return f
}

// The index's resident memory stays within its budget at 300,000 users (the exact in-memory
// index would hold 6 MiB), and none of it is on the Go heap.
func TestIndexResidentMemoryIsBounded(t *testing.T) {
	const n = 300_000
	const budget = 1 << 20
	f := &fakeRows{ids: make([]string, n)}
	for i := range f.ids {
		f.ids[i] = "user-" + itoa(i)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := int64(ms.HeapAlloc)
	ix := newTestIndex(t, budget)
	for i, id := range f.ids {
		if _, dup, err := ix.add(id, int64(i)*10, f.userAt); dup || err != nil {
			t.Fatalf("user %d: dup %v, %v", i, dup, err)
		}
		if ix.bytes() > budget {
			t.Fatalf("after %d users the index holds %d bytes, over its budget of %d", i+1, ix.bytes(), budget)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap := int64(ms.HeapAlloc) - heap0
	if indexOnHeap {
		heap -= ix.bytes()
	}
	t.Logf("%d users: resident %d KiB (peak %d KiB, budget %d KiB), files %d KiB, Go heap %d KiB",
		n, ix.bytes()>>10, ix.mem.peak>>10, budget>>10, ix.fileBytes()>>10, heap>>10)
	if ix.mem.peak > budget {
		t.Errorf("the index's resident memory peaked at %d bytes, over its budget of %d", ix.mem.peak, budget)
	}
	if ix.fileBytes() < 2*budget {
		t.Errorf("the index spilled only %d bytes: it did not spill what did not fit", ix.fileBytes())
	}
	if heap > 256<<10 {
		t.Errorf("the index holds %d bytes of Go heap", heap)
	}
	runtime.KeepAlive(f)
}

// The spilled index's files: unlinked at once on Unix (a killed run leaves nothing), closed
// (or removed) by Close.
func TestIndexFilesGoWithClose(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, FormatCSV)
	for i := range 8_000 {
		_ = w.Write(Row{UserID: userID(i), Balance: int64(i), KYCLevel: 1, Destination: Destination{Kind: KindNone}})
	}
	_ = w.Flush()
	r, err := NewReader(bytes.NewReader(buf.Bytes()), FormatCSV, WithIndexMemory(1), WithTempDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, rej, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || rej != nil {
			t.Fatal(err, rej)
		}
	}
	if !r.seen.spilled || r.Users() != 8_000 {
		t.Fatalf("spilled %v, %d users: the test tests nothing", r.seen.spilled, r.Users())
	}
	names := func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, e := range entries {
			n = append(n, e.Name())
		}
		return n
	}
	switch {
	case unlinkOpenFiles && len(names()) != 0:
		t.Errorf("the index's files are still linked: %v", names())
	case !unlinkOpenFiles && len(names()) == 0:
		t.Errorf("the index's files are not in %s", dir)
	}
	open := openFilesIn(t, dir)
	if runtime.GOOS == "linux" && open == 0 {
		t.Error("no open file of the index's under /proc/self/fd")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := names(); len(n) != 0 {
		t.Errorf("the index's files outlive Close: %v", n)
	}
	if open := openFilesIn(t, dir); open != 0 {
		t.Errorf("%d of the index's files are still open after Close", open)
	}
}

// openFilesIn counts this process's open files in dir (Linux; 0 elsewhere).
func openFilesIn(t *testing.T, dir string) int {
	if runtime.GOOS != "linux" {
		return 0
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// A spill that cannot create its file stops the read with an error, never a wrong answer.
func TestIndexSpillError(t *testing.T) {
	ix := &userIndex{}
	ix.init(minIndexMemory, filepath.Join(t.TempDir(), "missing"))
	defer ix.release()
	f := &fakeRows{}
	for i := range 100_000 {
		id := "user-" + itoa(i)
		f.ids = append(f.ids, id)
		if _, _, err := ix.add(id, int64(i)*10, f.userAt); err != nil {
			if !strings.Contains(err.Error(), "temporary file") {
				t.Errorf("error %v", err)
			}
			// The index is incomplete: it answers nothing more.
			if _, dup, err2 := ix.add("user-0", int64(i+1)*10, f.userAt); err2 != err || dup {
				t.Errorf("after the error: dup %v, %v", dup, err2)
			}
			return
		}
	}
	t.Fatal("a spill to a missing directory succeeded")
}

// BenchmarkIndex adds 1,000,000 users to an index that spills (the default budget) and to
// one that does not (a budget it never reaches): the spill's cost per user.
func BenchmarkIndex(b *testing.B) {
	const n = 1_000_000
	f := &fakeRows{ids: make([]string, n)}
	for i := range f.ids {
		f.ids[i] = "user-" + itoa(i)
	}
	for _, bc := range []struct {
		name   string
		budget int64
	}{{"spilled", DefaultIndexMemory}, {"in_memory", 1 << 30}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				ix := &userIndex{}
				ix.init(bc.budget, b.TempDir())
				for i, id := range f.ids {
					if _, dup, err := ix.add(id, int64(i)*10, f.userAt); dup || err != nil {
						b.Fatal(i, dup, err)
					}
				}
				ix.release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/user")
		})
	}
}
