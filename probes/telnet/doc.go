// Package telnet reads the greeting a device's telnet server (TCP 23) prints
// before anyone logs in. Camera firmware built on BusyBox prints the host
// name in its login prompt, and Hikvision units keep the factory host name
// "192.0.0.64", so "192.0.0.64 login:" names the family even when nothing
// else answers. It also holds the telnet responder camsim emulates it with.
//
// The prober refuses every option the server offers or asks for (WONT/DONT),
// which is what a dumb terminal does and enough for the prompt to arrive,
// keeps only printable ASCII, bounds what it reads in bytes and time, and
// closes the connection after the greeting. It must never send a user name,
// a password or any other line: it only observes. Deciding a maker from the
// banner is probes/classify's job.
package telnet
