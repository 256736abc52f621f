// Package update is camwarden's firmware update: signed release metadata,
// resumable HTTPS download, A/B slots, a health-gated trial and automatic
// rollback.
//
// # Trust: TUF-style roles on ota/sign, not go-tuf
//
// go-tuf/v2 (v2.1.1 checked) was not used: `go mod tidy` on a program
// importing its updater adds 13 modules (sigstore, go-securesystemslib,
// go-containerregistry, letsencrypt/boulder, go-jose, ...), and its trust
// root is its own root.json with its own key ids and signature format, so
// it cannot chain to the ed25519 root key the appliance already holds
// (config policy.root_key) without a second, parallel root to provision
// and rotate. Instead a release is one document in the existing hierarchy:
//
//	root key --signs--> key set (roles policy/command/firmware, revocations)
//	firmware key --signs--> release {version, security_epoch, issued_at,
//	    expires, targets: [{arch, url, size, sha256}]}
//
// and the TUF attacks are answered like this:
//
//   - arbitrary software: the binary must hash to the sha256 in metadata
//     signed by a current, unrevoked key of role firmware (a policy or
//     command key cannot sign a release; a revoked key set entry never
//     verifies again).
//   - rollback: a committed release raises the security-epoch floor, and
//     nothing below it installs again; within an epoch, a downgrade needs
//     metadata issued after the running release's (MetadataFloor), so old
//     signed metadata cannot be replayed, but central can re-sign an older
//     version to roll the fleet back.
//   - freeze: metadata expires (at most MaxValidity after issue), judged by
//     trusted time (ota/policy: the synchronised clock or the newest signed
//     time seen).
//   - mix-and-match: one signed document binds version, epoch, and each
//     architecture's size and hash; the job's version must equal it.
//   - endless data: metadata is capped at MaxMetadata, a binary at its
//     declared size (one byte more aborts the download and discards it).
//   - wrong architecture: a release without this arch's target is refused.
//
// The job on ota/job is not signed: it only names a version and a
// repository. Everything that matters is re-checked in the signed metadata.
//
// # Slots, trial and rollback
//
// The state directory holds slots/a, slots/b and state.json (written
// atomically: temp, fsync, rename, fsync dir). An install writes the slot
// that is not active (temp file + rename, hash checked), then switches
// state.json to a Trial of it, then restarts. Until the first commit the
// rollback target is the factory binary (the package-installed camwarden).
//
// # Launcher
//
// systemd starts the installed /usr/bin/camwarden. Its main calls Boot
// first: Boot increments the persisted trial attempt counter (so a binary
// that crashes before it can commit gets at most DefaultMaxBootAttempts
// starts), rolls a boot-looping or corrupted trial back, checks the active
// slot still hashes to what was committed, and returns a Decision. When
// Decision.Launch is set, camwarden Execs the slot binary (same PID, so
// systemd's supervision and watchdog carry over) with CAMWARDEN_SLOT set;
// the slot binary calls Boot too, sees the variable and only learns
// whether it is on trial. A trial process runs Updater.RunTrial: the health
// gate must pass within TrialTimeout and then keep passing for the minimum
// trial (the longer of Options.MinTrial and the release's signed
// min_trial_seconds), then Commit raises the floors and makes the slot
// active. A stop during the trial (reboot, power cut) leaves it on trial:
// the next start runs it again, counted by Boot. A failed gate rolls back (the image's hash is
// remembered and never retried) and Relaunch goes back to the launcher,
// which starts the previous slot. A crash is caught by the counter.
//
// This package must not decide what is healthy (the app hands it a Gate),
// must not talk MQTT (the app reports Status), and must never write a slot
// or switch state before the binary's hash and the metadata's signature
// check out.
package update
