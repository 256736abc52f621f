package probes

import (
	"context"
	"testing"
	"time"
)

// A round with no answers ends Floor after its last request, long before
// its maximum.
func TestQuietEndsAfterFloorWithoutAnswers(t *testing.T) {
	start := time.Now()
	ctx, r := Quiet{Floor: 50 * time.Millisecond, Settle: 30 * time.Millisecond, Max: 5 * time.Second}.StartSending(context.Background())
	defer r.Stop()
	time.Sleep(80 * time.Millisecond) // still sending: must not end
	if ctx.Err() != nil {
		t.Fatal("round ended while requests were still going out")
	}
	r.Sent()
	<-ctx.Done()
	if took := time.Since(start); took < 130*time.Millisecond || took > 2*time.Second {
		t.Errorf("round took %v, want about 80 ms sending + 50 ms floor", took)
	}
}

// Answers keep a round open Settle after each, past the floor, and a late
// answer within that still counts; once they stop the round ends.
func TestQuietExtendsWhileAnswersArrive(t *testing.T) {
	start := time.Now()
	ctx, r := Quiet{Floor: 40 * time.Millisecond, Settle: 60 * time.Millisecond, Max: 5 * time.Second}.Start(context.Background())
	defer r.Stop()
	r.Sent()
	for range 5 { // answers 30 ms apart: each within Settle of the last
		time.Sleep(30 * time.Millisecond)
		if ctx.Err() != nil {
			t.Fatalf("round ended %v in, with answers still arriving", time.Since(start))
		}
		r.Heard()
	}
	<-ctx.Done()
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("round took %v, want about 150 ms of answers + 60 ms settle", took)
	}
}

// A link that never stops answering cannot keep a round open past Max.
func TestQuietBoundedByMax(t *testing.T) {
	ctx, r := Quiet{Floor: 20 * time.Millisecond, Settle: 50 * time.Millisecond, Max: 150 * time.Millisecond}.Start(context.Background())
	defer r.Stop()
	start := time.Now()
	for ctx.Err() == nil && time.Since(start) < 3*time.Second {
		r.Heard()
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("round lasted %v under constant answers, want at most Max (150 ms)", took)
	}
}

// SentWithin takes the floor chosen when sending ended; ReplyWait never
// exceeds the prober's own ceiling.
func TestReplyWait(t *testing.T) {
	ctx := WithReplyWait(context.Background(), func() time.Duration { return 30 * time.Millisecond })
	if d := ReplyWait(ctx, time.Second); d != 30*time.Millisecond {
		t.Errorf("ReplyWait = %v, want 30ms", d)
	}
	if d := ReplyWait(ctx, 10*time.Millisecond); d != 10*time.Millisecond {
		t.Errorf("ReplyWait above the ceiling = %v, want 10ms", d)
	}
	if d := ReplyWait(context.Background(), time.Second); d != time.Second {
		t.Errorf("ReplyWait unset = %v, want the ceiling", d)
	}
	start := time.Now()
	rctx, r := Quiet{Max: 5 * time.Second}.StartSending(context.Background())
	defer r.Stop()
	r.SentWithin(ReplyWait(ctx, time.Second))
	<-rctx.Done()
	if took := time.Since(start); took > time.Second {
		t.Errorf("round with a 30 ms reply wait took %v", took)
	}
}
