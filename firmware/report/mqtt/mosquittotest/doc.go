// Package mosquittotest runs Debian's real mosquitto broker for tests: a
// temporary config with plain, TLS and mutual-TLS listeners on free
// 127.0.0.1 ports, a PBKDF2 password file, an ACL file with the camwarden
// per-appliance patterns, and certificates made in the test.
//
// It is test support only: it must never listen beyond loopback, and it
// stops the broker it started by PID (never by name).
package mosquittotest
