/**
 * Pinned versions of the programs that the runtime builds or fetches outside npm.
 * Change a version here and every cache path that depends on it moves with it, so an old
 * build is never reused for a new version.
 */

/**
 * Temporal CLI, built with `go install`. v1.5.1 (Temporal Server 1.29.1, UI 2.42.1) is the
 * newest release that `go install module@version` accepts: from v1.6.0 the CLI's go.mod has
 * a `replace` directive, which `go install` rejects.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

/** Oldest Go toolchain that builds the pinned CLI, from the `go` line of its go.mod. */
export const GO_MIN_VERSION = '1.25';

/** Temporal's Java time-skipping test server, as the Maven artifact `group:artifact:version`. */
export const TEST_SERVER_GROUP = 'io.temporal';
export const TEST_SERVER_ARTIFACT = 'temporal-test-server';
export const TEST_SERVER_VERSION = '1.38.0';
export const TEST_SERVER_MAIN_CLASS = 'io.temporal.testserver.TestServer';

/**
 * SLF4J's no-operation binding, added beside the test server so that SLF4J does not print its
 * "Failed to load class StaticLoggerBinder" warning at every start. Matches the slf4j-api
 * 1.7.36 that temporal-test-server 1.38.0 depends on.
 */
export const SLF4J_NOP_VERSION = '1.7.36';

/** Name of the database that the embedded PostgreSQL creates for the product. */
export const EMBEDDED_POSTGRES_DATABASE = 'trueup';
