// Package packaging builds the camwarden Debian packages (arm64, and armhf
// with a GOARM=6 binary so that Pi Zero/1 running Raspberry Pi OS work): it
// cross-compiles the static firmware binary, lays out the unit, the sample
// configuration and the maintainer scripts in debian/, and hands an nfpm
// configuration to the nfpmdeb tool (its own module, so nfpm stays out of
// camwarden's go.mod).
//
// `make deb` runs it through cmd/mkdeb. It must not install anything or touch
// the system: packages are written to the output directory and nowhere else.
// The tests install them, but only into a throwaway overlay of the root.
package packaging
