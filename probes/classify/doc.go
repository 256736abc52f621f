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
// definitive; ambiguous (true for evidence several makers' firmware shares);
// and a plain-words reason. OUI organisations are matched by
// their exact registered names, never by substring.
//
// Resolution, as a decision table (first row that applies wins):
//
//	evidence                                                    outcome
//	----------------------------------------------------------  ---------------------------------------
//	the pipeline set identity.claims_other (the device's reply  review: neither its own verdict nor the
//	  named another known device's MAC or IP)                     claimed one is trusted
//	strong or definitive evidence for two or more makers        review, both sides' evidence listed
//	  (definitive does not outweigh another maker's strong:      (Candidates names the makers)
//	  one unauthenticated datagram must not beat a device's
//	  own banners)
//	an ambiguous rule at least as strong as the best maker's    review
//	  evidence, and stronger than weak
//	two makers tie on strength, corroboration, probes and       review (never settled by name order)
//	  signatures
//	otherwise                                                   the maker with the strongest evidence;
//	                                                              among equals, more independent probes,
//	                                                              then more probes, then more signatures
//
// A review verdict names no maker and has confidence none; firmware/enforce
// never acts on it (it lights the alert LED steadily and reports status
// "review") until an installer settles it with an allow-list entry or a
// signed policy signature. Independent agreement is noted but never lifts
// weak evidence to strong (OUI and host names are all spoofable, and strong
// is what may cut an uplink). Weak evidence for another maker stays in the
// evidence list and is explained in Conflicts (OEM hardware, Wi-Fi module,
// spoofed MAC). Brand, model, serial and firmware come from the strongest
// evidence that has them.
//
// Classify is the only place that decides a maker. It must stay pure (no
// I/O, no clock, no globals that change), deterministic and safe for
// concurrent use: the appliance reclassifies on every inventory change and
// enforcement acts on the answer. It must not act on verdicts itself (that
// is firmware/enforce) nor talk to devices (that is the probes).
package classify
