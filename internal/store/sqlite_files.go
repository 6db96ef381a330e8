package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// sqliteFileMode is the mode of payhub's SQLite files: the database, its write-ahead log
// and its shared-memory index hold payments, store clients and sealed secrets, for the
// owner's eyes only (docs/security.md §13).
const sqliteFileMode fs.FileMode = 0o600

// sqliteSidecars are the files SQLite keeps next to a database in WAL mode. SQLite creates
// them with the database file's permissions.
var sqliteSidecars = []string{"-wal", "-shm", "-journal"}

// ownerOnlySQLiteFiles makes sure the SQLite database at dsnPath (a dsn's path, query and
// all) is the owner's only before SQLite opens it: a new database file is created empty
// with mode 0600 (SQLite's own default is 0644, less the umask), so that its WAL and SHM,
// which SQLite creates with the database's mode, are 0600 too; existing files that others
// may read (made by an earlier payhub) are narrowed to 0600 where this process may change
// them. In-memory databases have no files.
func ownerOnlySQLiteFiles(dsnPath string) error {
	name, query, _ := strings.Cut(dsnPath, "?")
	if name == "" || name == ":memory:" || strings.Contains(query, "mode=memory") {
		return nil
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, sqliteFileMode)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("store: create sqlite database %s: %w", name, err)
	}
	for _, file := range append([]string{name}, prefixed(name, sqliteSidecars)...) {
		info, err := os.Stat(file)
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o077 == 0 {
			continue
		}
		// Best effort: a file of another owner keeps its mode (the owner decides).
		_ = os.Chmod(file, info.Mode().Perm()&sqliteFileMode)
	}
	return nil
}

// prefixed is name with each suffix appended.
func prefixed(name string, suffixes []string) []string {
	out := make([]string, len(suffixes))
	for i, s := range suffixes {
		out[i] = name + s
	}
	return out
}
