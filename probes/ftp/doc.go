// Package ftp reads the greeting an FTP server (TCP 21) sends before any
// command: the text of its 220 reply, which camera and recorder firmware
// often fills with the product name ("Welcome to Network Camera FTP
// Server", "AXIS M3004 Network Camera ... ready"). It also holds the FTP
// responder camsim emulates it with.
//
// The prober reads one reply, bounded in bytes, lines and time, sends QUIT
// and hangs up. It must never send USER, PASS or any other command: it only
// observes. Deciding a maker from the greeting is probes/classify's job.
package ftp
