// Package tcpbanner reads the first bytes a camera's proprietary SDK port
// answers with (Hikvision TCP 8000, Dahua TCP 37777), which identify the
// family even when the web server is silent, and holds the fixed-reply
// responder camsim uses for them.
//
// The prober sends a few zero bytes, reads at most MaxReply bytes before a
// deadline and reports them as hex; it never speaks the SDK protocol further.
package tcpbanner
