// Package digest answers and checks HTTP Digest authentication (RFC 7616,
// with RFC 2069's form for servers that offer no qop) for the probers that
// log into devices, onvif and nvr, and for their emulated devices.
//
// Only what cameras and recorders ask for is computed: MD5 and SHA-256
// with qop=auth. A challenge for anything else (auth-int only, SHA-512-256,
// the -sess variants) is reported, not guessed at, so a prober never spends
// one of a device's few allowed failed logins on an answer that cannot
// succeed.
//
// Everything read here comes from the network: one header is read only up
// to MaxChallenge (challenges) or MaxAuthorization (the responders' side)
// bytes, and at most MaxParams parameters of it, so a hostile device cannot
// make a prober allocate without bound.
package digest
