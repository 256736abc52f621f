// Package rtsp reads what a camera's RTSP server (TCP 554) says about its
// maker: the Server header, the Public method list and the realm of the
// WWW-Authenticate challenge DESCRIBE provokes (Hikvision "Hikvision", Dahua
// "Login to <serial>"). It also holds the RTSP responder camsim emulates
// cameras with.
//
// The prober sends OPTIONS and DESCRIBE only: it never authenticates, never
// sets up a stream, and bounds every reply in size and time. It emits facts;
// deciding who made a device is probes/classify's job.
package rtsp
