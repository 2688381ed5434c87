// Package pgtest gives tests a PostgreSQL: NewDatabase, a fresh database on
// the shared test server that scripts/test starts (ATMGW_TEST_DATABASE_URL),
// dropped when the test ends; StartServer, a private server of one test
// (initdb into a temporary directory, a loopback port, fsync off) that the
// test can stop and start again to see what a dead database does; and
// Server.StartReplica, a streaming hot-standby replica of such a server
// (pg_basebackup -R), which stops and starts the same way. Connect, Exec
// and QueryRow give a test a session of its own beside the code under test.
// Without PostgreSQL the tests are skipped, or fail under CI=true.
package pgtest
