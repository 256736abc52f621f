package onvif

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/camwarden/camwarden/probes/internal/xmltree"
)

// SOAP and ONVIF namespaces used in requests.
const (
	NSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	NSDevice = "http://www.onvif.org/ver10/device/wsdl"
	NSSchema = "http://www.onvif.org/ver10/schema"
	NSError  = "http://www.onvif.org/ver10/error"
	nsWSSE   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	pwDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	pwText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	b64Enc   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// Errors a caller can test with errors.Is.
var (
	// ErrNotAuthorized: the device refused the request (ter:NotAuthorized
	// fault, or HTTP 401).
	ErrNotAuthorized = errors.New("not authorized")
	// ErrActionNotSupported: the device does not implement the operation.
	ErrActionNotSupported = errors.New("action not supported")
	// ErrNotONVIF: the address answered, but not with a SOAP envelope.
	ErrNotONVIF = errors.New("not an ONVIF SOAP service")
	// ErrTooLarge: the response exceeded the client's size cap.
	ErrTooLarge = errors.New("response too large")
)

// Fault is a SOAP fault the device returned.
type Fault struct {
	HTTPStatus int
	Code       string   // e.g. "env:Sender" (as sent)
	Subcodes   []string // e.g. ["ter:NotAuthorized"], outermost first
	Reason     string
}

func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SOAP fault %s", f.Code)
	for _, s := range f.Subcodes {
		b.WriteString("/" + s)
	}
	if f.Reason != "" {
		fmt.Fprintf(&b, " %q", f.Reason)
	}
	if f.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", f.HTTPStatus)
	}
	return b.String()
}

// Is maps ONVIF's subcodes onto the package's sentinel errors.
func (f *Fault) Is(target error) bool {
	want := ""
	switch target {
	case ErrNotAuthorized:
		want = "NotAuthorized"
	case ErrActionNotSupported:
		want = "ActionNotSupported"
	default:
		return false
	}
	for _, s := range append([]string{f.Code}, f.Subcodes...) {
		if localPart(s) == want {
			return true
		}
	}
	return false
}

// HTTPError is a non-2xx answer that carried no SOAP fault.
type HTTPError struct {
	Status int
	// Challenge is true when a 401 offered HTTP Digest.
	Challenge bool
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d", e.Status) }

// Is makes a 401 an ErrNotAuthorized.
func (e *HTTPError) Is(target error) bool { return target == ErrNotAuthorized && e.Status == 401 }

func localPart(q string) string {
	if i := strings.LastIndexByte(q, ':'); i >= 0 {
		return q[i+1:]
	}
	return q
}

// parseFault reads a SOAP 1.2 or 1.1 Fault element.
func parseFault(f *xmltree.Node, status int) *Fault {
	out := &Fault{HTTPStatus: status}
	if code := f.Child("Code"); code != nil { // SOAP 1.2
		out.Code = code.Child("Value").Text()
		sub := code.Child("Subcode")
		for i := 0; sub != nil && i < 8; i++ {
			out.Subcodes = append(out.Subcodes, sub.Child("Value").Text())
			sub = sub.Child("Subcode")
		}
		out.Reason = f.Path("Reason", "Text").Text()
	} else { // SOAP 1.1
		out.Code = f.Child("faultcode").Text()
		out.Reason = f.Child("faultstring").Text()
	}
	if len(out.Reason) > 256 {
		out.Reason = out.Reason[:256]
	}
	return out
}

// Bounds on one parsed message, on top of the byte cap it was read under.
const (
	maxDepth    = 48
	maxElements = 8192
	maxText     = 8 << 10
)

// limits bounds a parse of a message read under a cap of maxBytes
// (DefaultMaxBody when not positive, as for Client.MaxBody).
func limits(maxBytes int64) xmltree.Limits {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	return xmltree.Limits{MaxBytes: int(min(maxBytes, math.MaxInt)), MaxDepth: maxDepth, MaxElements: maxElements, MaxText: maxText}
}

// parseEnvelope returns the first element of the Body, or the fault. The
// transport already refused bodies over maxBytes; the tree is bounded
// in shape as well.
func parseEnvelope(b []byte, status int, maxBytes int64) (*xmltree.Node, error) {
	root, err := xmltree.Parse(b, limits(maxBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotONVIF, err)
	}
	if root.Name().Local != "Envelope" {
		return nil, fmt.Errorf("%w: root element %q", ErrNotONVIF, root.Name().Local)
	}
	body := root.Child("Body")
	if len(body.Kids()) == 0 {
		return nil, fmt.Errorf("%w: empty SOAP body", ErrNotONVIF)
	}
	first := body.Kids()[0]
	if first.Name().Local == "Fault" {
		return nil, parseFault(first, status)
	}
	return first, nil
}

// envelope wraps body (an element in the tds namespace) and an optional
// security header in a SOAP 1.2 envelope.
func envelope(security, body string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<s:Envelope xmlns:s="` + NSSOAP12 + `" xmlns:tds="` + NSDevice + `" xmlns:tt="` + NSSchema + `">`)
	if security != "" {
		b.WriteString(`<s:Header>` + security + `</s:Header>`)
	}
	b.WriteString(`<s:Body>` + body + `</s:Body></s:Envelope>`)
	return []byte(b.String())
}
