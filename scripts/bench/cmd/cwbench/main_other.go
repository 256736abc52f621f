//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "cwbench: the lab benchmarks need Linux network namespaces")
	os.Exit(1)
}
