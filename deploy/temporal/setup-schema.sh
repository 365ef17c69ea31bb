#!/bin/sh
# Creates Temporal's two databases and brings their schemas up to the version of the
# admin-tools image, then exits. Idempotent: `create` ignores an existing database,
# `setup-schema -v 0.0` skips a database that already has a newer version, and
# `update-schema` applies only the versions that are missing. Running it again with a newer
# admin-tools image is how a Temporal upgrade gets its schema changes.
#
# Same steps as scripts/setup-postgres.sh in temporalio/samples-server (compose/).
set -eu

: "${SQL_HOST:?}" "${SQL_PORT:=5432}" "${SQL_USER:?}" "${SQL_PASSWORD:?}"
export SQL_PASSWORD
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

tool() {
  temporal-sql-tool --plugin postgres12 --ep "$SQL_HOST" -p "$SQL_PORT" -u "$SQL_USER" "$@"
}

echo "waiting for PostgreSQL at $SQL_HOST:$SQL_PORT"
tries=0
until nc -z -w 5 "$SQL_HOST" "$SQL_PORT"; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "PostgreSQL did not answer" >&2; exit 1; }
  sleep 2
done

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir="$SCHEMA_DIR/temporal/versioned" ;;
    *) dir="$SCHEMA_DIR/visibility/versioned" ;;
  esac
  echo "schema of database $db"
  tool --db "$db" create
  tool --db "$db" setup-schema -v 0.0
  tool --db "$db" update-schema -d "$dir"
done
echo "Temporal schema is up to date"
