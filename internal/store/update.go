package store

import (
	"bytes"
	"strings"
	"time"
)

// changedColumnsUpdate is the UPDATE of one row of table (by id) that sets only the columns
// whose value differs between was (the row as stored, read in the same transaction) and
// now, both encoded in columns order; columns before mutableFrom never change. It is ""
// when nothing differs.
//
// Writing every column back was simpler, but SQLite rewrites the entries of every index on
// a column an UPDATE names, changed or not: a payment's outcome moved it in all nine
// indexes of payments — nine more pages in the WAL per payment — where its status, its
// partner's id and its times are in three. PostgreSQL decides by value (a HOT update), and
// is sent fewer parameters.
func changedColumnsUpdate(table string, columns []string, mutableFrom int, was, now []any, id string) (string, []any) {
	var set strings.Builder
	var args []any
	for i := mutableFrom; i < len(columns); i++ {
		if sameArg(was[i], now[i]) {
			continue
		}
		if set.Len() > 0 {
			set.WriteString(", ")
		}
		set.WriteString(columns[i])
		set.WriteString(" = ?")
		args = append(args, now[i])
	}
	if set.Len() == 0 {
		return "", nil
	}
	return "UPDATE " + table + " SET " + set.String() + " WHERE id = ?", append(args, id)
}

// sameArg reports whether two encoded column values are the same value: times by Equal
// (their location and monotonic reading are not the value), bytes by content, the rest
// (strings, integers, booleans, nil) by ==.
func sameArg(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return a == b
}
