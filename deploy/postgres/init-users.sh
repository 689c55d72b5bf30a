#!/bin/sh
# Runs once, when the PostgreSQL volume is created: one role and database for trueup and
# one role for Temporal (its setup job creates the `temporal` and `temporal_visibility`
# databases). Passwords come from the postgres service's environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE trueup LOGIN PASSWORD '${TRUEUP_DB_PASSWORD}';
CREATE DATABASE trueup OWNER trueup;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD '${TEMPORAL_DB_PASSWORD}';
SQL
