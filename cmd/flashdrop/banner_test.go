package main

import (
	"os"
	"strings"
	"testing"
)

// TestBannerSaysTheCommandAsRun: the banner's token command is the one
// that ran serve: go run ./cmd/flashdrop only for a binary go run built
// (it told users of an installed binary to go run a source tree they may
// not have), flashdrop for one found on PATH, a path as given.
func TestBannerSaysTheCommandAsRun(t *testing.T) {
	for argv0, want := range map[string]string{
		"flashdrop":                "flashdrop",
		"./flashdrop":              "./flashdrop",
		"/usr/local/bin/flashdrop": "/usr/local/bin/flashdrop",
		"/tmp/go-build2718281828/b001/exe/flashdrop":                     "go run ./cmd/flashdrop",
		"/tmp/go-build2718281828/b001/flashdrop.test":                    "go run ./cmd/flashdrop",
		`C:\Users\a\AppData\Local\Temp\go-build1\b001\exe\flashdrop.exe`: "go run ./cmd/flashdrop",
		"/opt/my apps/flashdrop":                                         "'/opt/my apps/flashdrop'",
		"/home/o'brien/flashdrop":                                        `'/home/o'\''brien/flashdrop'`,
		"/opt/go-builder":                                                "/opt/go-builder",
		"":                                                               "flashdrop",
	} {
		if got := selfCommand(argv0); got != want {
			t.Errorf("selfCommand(%q) = %q, want %q", argv0, got, want)
		}
	}
	// A test binary is go-build's too: the banner of a run with a
	// generated secret gives the command with the secret.
	m, _, out := startServe(t)
	want := "FLASHDROP_JWT_SECRET=" + m.Config.JWTSecret + " " + selfCommand(os.Args[0]) + " token --user alice\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("the banner lacks %q:\n%s", want, out)
	}
}
