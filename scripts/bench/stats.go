package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Summary is the distribution of one measured duration over trials.
type Summary struct {
	N             int
	Min, P50, P99 time.Duration
	Max, Mean     time.Duration
}

// Summarize returns the distribution of ds; N is 0 when ds is empty.
// Percentiles are nearest-rank: with fewer than 100 trials p99 is the
// maximum, which is what a worst-case reader should see.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Summary{
		N: len(s), Min: s[0], Max: s[len(s)-1], Mean: sum / time.Duration(len(s)),
		P50: Percentile(s, 50), P99: Percentile(s, 99),
	}
}

// Percentile returns the nearest-rank p-th percentile of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Ms formats a duration in milliseconds with one decimal, "-" for none.
func Ms(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

// Tail returns the last n bytes of s, trimmed, marked when cut.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
