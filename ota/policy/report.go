package policy

// SchemaReported is the schema of camwarden/v1/{id}/policy/reported.
const SchemaReported = "camwarden.policy_reported/1"

// Report is the body of policy/reported (retained): the outcome of the last
// policy message and the policy in force. The MQTT glue adds the common
// header (schema, appliance, ts, seq, msg_id).
type Report struct {
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// AppliedVersion and SHA256 (hex, over the signed document bytes)
	// identify the policy in force; 0 and "" when none is.
	AppliedVersion uint64 `json:"applied_version"`
	SHA256         string `json:"sha256,omitempty"`
	// Received* describe the message this report answers.
	ReceivedVersion uint64 `json:"received_version,omitempty"`
	ReceivedSHA256  string `json:"received_sha256,omitempty"`
	Source          Source `json:"source,omitempty"`
	KeySetVersion   uint64 `json:"keyset_version,omitempty"`
}

// Report turns a result from src into the policy/reported body.
func (r Result) Report(src Source, keySetVersion uint64) Report {
	rep := Report{Status: r.Status, Reason: r.Reason, ReceivedVersion: r.Version, ReceivedSHA256: r.SHA256,
		Source: src, KeySetVersion: keySetVersion}
	if r.Applied != nil {
		rep.AppliedVersion, rep.SHA256 = r.Applied.Doc.Version, r.Applied.SHA256
	}
	return rep
}
