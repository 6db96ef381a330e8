#!/bin/bash
# The PostgreSQL floor of a payment: the server's CPU per payment when a payment is only
# its SQL (payment.sql: payhub's statements of the intent and the outcome transactions,
# each transaction one pipelined round trip), driven by pgbench at a given concurrency.
# The database is made for the run (payhub's schema, by `payhub ledger check`, which
# migrates) and dropped after. The server's CPU is the machine's busy time (/proc/stat)
# less pgbench's own (utime+stime): run it on an otherwise idle machine.
#
#   go build -o /tmp/ ./cmd/payhub
#   internal/lab/pgfloor/run.sh 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' 4 10
set -euo pipefail
base=${1:?postgres URL of a database to connect to first}
clients=${2:-4}
seconds=${3:-10}
payhub=${PAYHUB:-/tmp/payhub}
pgbench=${PGBENCH:-$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)}
dir=$(cd "$(dirname "$0")" && pwd)
db="payhub_floor_$$"
psql "$base" -qc "CREATE DATABASE $db"
trap 'psql "$base" -qc "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
url=${base/\/postgres\?//$db?}
"$payhub" ledger check --db "$url" >/dev/null
if [ -n "${BARE:-}" ]; then
	# BARE=1: no secondary index on any table (primary keys and unique constraints stay),
	# the floor of any schema that keeps these rows.
	psql "$url" -Atqc "SELECT 'DROP INDEX ' || indexrelid::regclass || ';' FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT i.indisprimary AND NOT i.indisunique" | psql "$url" -q
fi
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
before=$(busy)
out=$(/usr/bin/time -f 'pgbench_cpu %U %S' "$pgbench" "$url" -n -M prepared -f "$dir/payment.sql" -c "$clients" -j 1 -T "$seconds" 2>&1)
after=$(busy)
payments=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
read -r _ u s < <(grep pgbench_cpu <<<"$out")
hz=$(getconf CLK_TCK)
awk -v b="$before" -v a="$after" -v hz="$hz" -v u="$u" -v s="$s" -v n="$payments" -v sec="$seconds" -v c="$clients" 'BEGIN {
	total = (a - b) / hz; server = total - u - s
	printf "clients %d: %d payments in %d s (%.0f/s); machine busy %.2f s, pgbench %.2f s, PostgreSQL %.2f s: %.3f ms of server CPU per payment\n",
		c, n, sec, n / sec, total, u + s, server, 1000 * server / n }'
