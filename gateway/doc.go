// Package gateway is the TCP side of atmgw: the Server that accepts partner
// connections, one session per connection with a read loop and a write loop,
// sign-on that binds a connection to an institution, echo and sign-off, the
// idle timeout, and the inquiry handler that takes every 0200 through the
// decisions of the partner interface in their order (docs/interface.md,
// section 5), and every 0302 (a consent registered, replaced or revoked
// online, section 11) through the same decisions 3 to 7 and then a
// ledger.ConsentRegistry on the primary.
//
// The shape follows net/http: a Server with Serve(listener), Shutdown(ctx)
// and Close(); handlers are plain methods of a decoded request and the
// session's partner, so every decision is a table test that needs no socket.
// Every goroutine the Server starts is tracked and stopped by Shutdown or
// Close, and every connection closes with a reason that is logged.
//
// The package knows nothing of SQL (it talks to a ledger.Store) nor of the
// Big5 layout rules (package limits renders the texts).
package gateway
