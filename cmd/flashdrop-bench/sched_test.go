package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSchedMark(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("schedstat", "123456789 2500000 77\n")
	write("status", "Name:\tredis-server\nvoluntary_ctxt_switches:\t10\nnonvoluntary_ctxt_switches:\t31\n")
	m, err := readSchedMark(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	if m != (schedMark{runNs: 123456789, waitNs: 2500000, preempted: 31}) {
		t.Fatalf("got %+v", m)
	}
	d := m.sub(schedMark{runNs: 123456789 - 1000000, waitNs: 500000, preempted: 1})
	if d != (schedMark{runNs: 1000000, waitNs: 2000000, preempted: 30}) {
		t.Fatalf("sub: %+v", d)
	}
	// 2 ms waited and 1 ms ran over 100 wins, 30 switches over 10 calls.
	if note := schedNote(d, 100, 10); !strings.Contains(note, "waited 20.0 µs per win") || !strings.Contains(note, "3.00 times per script call") ||
		!strings.Contains(note, "10.0 µs per win on the core") {
		t.Fatalf("note: %s", note)
	}

	write("status", "Name:\tredis-server\n")
	if _, err := readSchedMark(root, 42); err == nil {
		t.Fatal("a status without nonvoluntary_ctxt_switches was read")
	}
	write("schedstat", "garbage")
	if _, err := readSchedMark(root, 42); err == nil {
		t.Fatal("a malformed schedstat was read")
	}
	if _, err := readSchedMark(root, 43); err == nil {
		t.Fatal("a missing process was read")
	}
	// The machine's own /proc: this process has both files.
	if _, err := readSchedMark("/proc", os.Getpid()); err != nil {
		t.Fatalf("this process's marks: %v", err)
	}
}
