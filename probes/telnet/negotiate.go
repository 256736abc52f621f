package telnet

import (
	"strings"
)

// Telnet command and option bytes (RFC 854, RFC 855).
const (
	IAC  = 255
	DONT = 254
	DO   = 253
	WONT = 252
	WILL = 251
	SB   = 250
	SE   = 240
)

// Bounds on one greeting.
const (
	// MaxRead is how many raw bytes the prober reads at most: greetings
	// with a message of the day are a few hundred bytes, negotiation adds
	// tens.
	MaxRead = 8 << 10
	// MaxText is how many printable bytes are kept; a fact keeps fewer.
	MaxText = 1024
)

// parser states
const (
	stData = iota
	stIAC
	stOption
	stSub
	stSubIAC
)

// Greeting turns the bytes a telnet server sends into the printable
// greeting and the refusals to send back. The zero value is ready. It holds
// no connection, so it can be fed any bytes (and fuzzed).
type Greeting struct {
	state    int
	cmd      byte
	text     []byte
	lastSp   bool
	esc      int
	data     int          // bytes seen outside commands
	junk     int          // control bytes among them that no terminal text carries
	answered [2][256]bool // DO, WILL already refused once per option
}

// Feed consumes bytes from the server and appends to out the refusals owed
// for them. Each option is refused at most once per direction: RFC 1143
// forbids answering a request that would not change the state, and a
// server that repeats the same request forever must not get an endless
// stream of answers.
func (g *Greeting) Feed(in []byte, out []byte) []byte {
	for _, b := range in {
		switch g.state {
		case stData:
			if b == IAC {
				g.state = stIAC
				continue
			}
			g.data++
			g.addText(b)
		case stIAC:
			switch b {
			case DO, DONT, WILL, WONT:
				g.cmd, g.state = b, stOption
			case SB:
				g.state = stSub
			default:
				// IAC IAC is a literal 255, not printable; GA, NOP and
				// the other one-byte commands carry nothing for us.
				g.state = stData
			}
		case stOption:
			g.state = stData
			switch g.cmd {
			case DO:
				if !g.answered[0][b] {
					g.answered[0][b] = true
					out = append(out, IAC, WONT, b)
				}
			case WILL:
				if !g.answered[1][b] {
					g.answered[1][b] = true
					out = append(out, IAC, DONT, b)
				}
			}
			// DONT and WONT ask for what we already do: no answer.
		case stSub:
			// Subnegotiation only follows an option we refused; skip it.
			if b == IAC {
				g.state = stSubIAC
			}
		case stSubIAC:
			if b == SE {
				g.state = stData
			} else {
				g.state = stSub
			}
		}
	}
	return out
}

// addText keeps printable ASCII and turns any run of white space into one
// space, so "\r\n\r\n192.0.0.64 login: " and "192.0.0.64 login:" read the
// same. Other control bytes, bytes above ASCII and ANSI escape sequences
// (some banners clear the screen or colour the prompt) are dropped.
func (g *Greeting) addText(b byte) {
	switch g.esc {
	case escStart:
		g.esc = escNone
		if b == '[' {
			g.esc = escCSI
		}
		return
	case escCSI:
		if b >= 0x40 && b <= 0x7e {
			g.esc = escNone
		}
		return
	}
	switch {
	case b == 0x1b:
		g.esc = escStart
	case b < 0x20 && b != 0 && b != 7 && b != 8 && (b < 9 || b > 13), b == 0x7f:
		g.junk++ // NUL (after CR), BEL, BS and white space are terminal text
	case len(g.text) >= MaxText:
	case b > 0x20 && b < 0x7f:
		g.text = append(g.text, b)
		g.lastSp = false
	case b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\v' || b == '\f':
		if !g.lastSp && len(g.text) > 0 {
			g.text = append(g.text, ' ')
			g.lastSp = true
		}
	}
}

// ANSI escape states
const (
	escNone = iota
	escStart
	escCSI
)

// Text returns the printable greeting seen so far, white space collapsed
// and trimmed; "" when the server sends binary data rather than text.
func (g *Greeting) Text() string {
	if g.Binary() {
		return ""
	}
	return strings.TrimSpace(string(g.text))
}

// Binary reports whether the data is not terminal text: a service that is
// not telnet (an SDK port moved to 23) whose bytes happen to include
// printable ones must not become a banner.
func (g *Greeting) Binary() bool { return g.junk > 4 && g.junk*32 > g.data }

// Full reports whether no more text will be kept or the data is binary.
func (g *Greeting) Full() bool { return len(g.text) >= MaxText || g.Binary() }

// prompts end a greeting: once one is on screen the server waits for us.
var prompts = []string{"login:", "username:", "user name:", "user:", "password:", "login as:"}

// Prompt reports whether the greeting ends in a login prompt.
func (g *Greeting) Prompt() bool {
	t := strings.ToLower(g.Text())
	for _, p := range prompts {
		if strings.HasSuffix(t, p) {
			return true
		}
	}
	return false
}
