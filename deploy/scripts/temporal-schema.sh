#!/bin/sh
# Creates (or upgrades) Temporal's two databases in the shared PostgreSQL with the
# admin-tools image's temporal-sql-tool. Safe to run again: existing schemas are upgraded.
set -eu


for db in temporal temporal_visibility; do
  case "$db" in
    temporal) schema_dir=/etc/temporal/schema/postgresql/v12/temporal/versioned ;;
    *) schema_dir=/etc/temporal/schema/postgresql/v12/visibility/versioned ;;
  esac
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" create || true
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" setup-schema -v 0.0 || true
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" --db "$db" update-schema -d "$schema_dir"
done
echo "Temporal schemas are up to date"
