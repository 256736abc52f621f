// Package classify turns the facts probes gathered about one device into a
// Verdict: who made it (including OEM relabels), the label on the box, its
// model, serial and firmware, how sure that is, the evidence chain, any
// evidence that points elsewhere, and restricted components seen inside.
//
// Signatures are data (signatures.yaml, embedded; policies may add or
// override rules by id), so a new banner or OUI needs no code change. The
// registrant of the MAC prefix enters as the pseudo facts oui.org,
// oui.prefix and oui.bits, which classify derives itself from probes/oui;
// facts with those keys from anywhere else are ignored.
//
// Classify is the only place that decides a maker. It must stay pure (no
// I/O, no clock, no globals that change), deterministic and safe for
// concurrent use: the appliance reclassifies on every inventory change and
// enforcement acts on the answer. It must not act on verdicts itself (that
// is firmware/enforce) nor talk to devices (that is the probes).
package classify
