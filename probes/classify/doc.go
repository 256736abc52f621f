// Package classify turns the facts probes gathered about one device into a
// Verdict: who made it (including OEM relabels), the label on the box, its
// model, serial and firmware, how sure that is, the evidence chain, any
// evidence that points elsewhere, and restricted components seen inside.
//
// Signatures are data (signatures/*.yaml, embedded; policies may add or
// override rules by id), so a new banner or OUI needs no code change. The
// registrant of the MAC prefix enters as the pseudo facts oui.org,
// oui.prefix and oui.bits, which classify derives itself from probes/oui;
// facts with those keys from anywhere else are ignored.
//
// Signature schema (schema: 1): each rule has an id; `when`, a list of
// conditions ANDed, each {fact, one of equals | in | prefix | regex |
// present, optional ignore_case}; the maker and/or component it claims;
// brand (fixed) or brand_from (fact keys, minus brand_ignore values);
// model/serial/firmware fact keys to copy; strength weak | strong |
// definitive; and a plain-words reason. OUI organisations are matched by
// their exact registered names, never by substring.
//
// Resolution: the maker with the strongest evidence wins; among equals,
// the one more independent probes agree on. Independent agreement is noted
// but never lifts weak evidence to strong (OUI and host names are all
// spoofable, and strong is what may cut an uplink). Equally strong,
// equally corroborated disagreement lowers the confidence one step.
// Evidence for other makers stays in the evidence list and is explained in
// Conflicts (OEM hardware, Wi-Fi module, spoofed MAC). Brand, model, serial
// and firmware come from the strongest evidence that has them.
//
// Classify is the only place that decides a maker. It must stay pure (no
// I/O, no clock, no globals that change), deterministic and safe for
// concurrent use: the appliance reclassifies on every inventory change and
// enforcement acts on the answer. It must not act on verdicts itself (that
// is firmware/enforce) nor talk to devices (that is the probes).
package classify
