// Command fakefw is a stand-in camwarden for the end-to-end update test:
// it runs the launcher logic (Boot, Exec), and on trial a gate that passes,
// fails or crashes as built (-ldflags "-X main.version=V -X main.gate=G").
// Every line it prints is something the test asserts on.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/camwarden/camwarden/ota/update"
)

var (
	version = "dev"
	gate    = "pass" // pass | fail | crash
)

func main() {
	dir := os.Getenv("FAKEFW_STATE")
	d, err := update.Boot(dir)
	if err != nil {
		fmt.Println("boot-error", err)
	}
	if d.RolledBack != nil {
		fmt.Println("status", d.RolledBack.State, d.RolledBack.Version, d.RolledBack.Code)
	}
	if d.Launch {
		fmt.Printf("launch %s slot=%s trial=%v attempt=%d\n", version, d.Slot, d.Trial, d.Attempt)
		if err := update.Exec(d, os.Args); err != nil {
			fmt.Println("exec-error", err)
			os.Exit(3)
		}
	}
	if d.Trial {
		if gate == "crash" {
			fmt.Println("crash", version)
			os.Exit(2)
		}
		u, err := update.New(update.Options{Dir: dir, TrialTimeout: 300 * time.Millisecond, GateInterval: 50 * time.Millisecond,
			Report: func(s update.Status) { fmt.Println("status", s.State, s.Version, s.Code) },
			Restart: func() {
				if err := update.Relaunch(os.Args); err != nil {
					fmt.Println("relaunch-error", err)
					os.Exit(4)
				}
			}})
		if err != nil {
			fmt.Println("new-error", err)
			os.Exit(5)
		}
		err = u.RunTrial(context.Background(), d, func(context.Context, update.Trial) error {
			if gate == "fail" {
				return errors.New("board not answering")
			}
			return nil
		})
		if err != nil {
			fmt.Println("trial-error", err)
			os.Exit(6)
		}
	}
	fmt.Printf("running %s slot=%q\n", version, d.Slot)
}
