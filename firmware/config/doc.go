// Package config reads camwarden's YAML configuration: defaults, a documented
// sample (embedded, printed by `camwarden config sample`), and Validate, whose
// errors name the field and the bad value so an installer can fix the file.
//
// Config must not open devices or sockets; it only describes them.
package config
