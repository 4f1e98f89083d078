#!/bin/sh
# Creates and migrates Temporal's databases on Postgres with temporal-sql-tool:
# the setup Temporal documents for a production cluster, in place of the
# auto-setup image (documented as not meant for production).
#
# docker-compose.yml runs it before every start of the Temporal server, so
# each step must be safe to repeat: create-database ignores a database that
# exists, setup-schema -v 0.0 keeps a newer recorded version, and
# update-schema applies only the versions a database lacks, which also
# migrates the schema when the server pin moves.
#
# The tool reads its connection from SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER
# and SQL_PASSWORD. --schema-name selects the schema embedded in the tool, so
# the schema always matches the tool's (and the server's) version.
set -eu

migrate() {
	temporal-sql-tool --db "$1" create-database
	temporal-sql-tool --db "$1" setup-schema -v 0.0
	temporal-sql-tool --db "$1" update-schema --schema-name "$2"
}

migrate temporal postgresql/v12/temporal
migrate temporal_visibility postgresql/v12/visibility
