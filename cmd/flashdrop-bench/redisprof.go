package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// startRedisProfile samples redis-server's CPU with perf for about d, as
// startProfile does for the server: Redis's own time per win is a target,
// and only a profile of Redis shows where it goes. Without perf (or
// without the permission to attach), it says why and returns nothing; the
// run goes on.
func (b *bench) startRedisProfile(d time.Duration, name string) func() string {
	none := func() string { return "" }
	perf, err := exec.LookPath("perf")
	if err != nil {
		b.log("no Redis CPU profile: perf is not installed (Debian: linux-perf)")
		return none
	}
	pid := strconv.Itoa(b.redisPid)
	// The kernel knows the binary's real file (INFO's executable joins
	// argv[0] to the working directory, which --dir changed).
	exe, err := os.Readlink("/proc/" + pid + "/exe")
	if err != nil {
		exe, _ = exec.LookPath("redis-server")
	}
	path := filepath.Join(b.c.outDir, "perf-redis-"+name+".data")
	secs := strconv.Itoa(max(int(d.Seconds())-1, 1))
	// perf runs where the driver runs (on two cores, pinned to core 0
	// with the generator), not beside Redis on core 1.
	rec := exec.Command(perf, "record", "-q", "-F", "999", "-p", pid, "-o", path, "--", "sleep", secs)
	var stderr bytes.Buffer
	rec.Stderr = &stderr
	if err := rec.Start(); err != nil {
		b.log("no Redis CPU profile: %v", err)
		return none
	}
	return func() string {
		if err := rec.Wait(); err != nil {
			b.log("no Redis CPU profile: perf record: %v: %s", err, strings.TrimSpace(stderr.String()))
			return ""
		}
		out, err := exec.Command(perf, "report", "-i", path, "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none").Output()
		if err != nil {
			b.log("no Redis CPU profile: perf report: %v", err)
			return ""
		}
		return summarizePerf(out, filepath.Base(exe), dynamicSymbols(exe), 15)
	}
}

type symbol struct {
	addr uint64
	name string
}

// dynamicSymbols are the exported functions of the binary at path, by
// address. Debian's redis-server is stripped but for these: its Lua core's
// internal functions (the interpreter, tables, strings, the collector)
// have none, and perf shows them as bare addresses.
func dynamicSymbols(path string) []symbol {
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil
	}
	var out []symbol
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
			out = append(out, symbol{s.Value, s.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addr < out[j].addr })
	return out
}

// perfLine is a line of perf report --sort dso,sym: share, object, kind
// ([.] user, [k] kernel), symbol.
var perfLine = regexp.MustCompile(`^\s*([0-9.]+)%\s+(\S+)\s+\[([.k])\]\s+(.+?)\s*$`)

// summarizePerf folds perf report's lines into the top n entries. An
// address perf could not name in the Redis binary (object dso, symbols
// syms) is put under the exported function before it ("after
// lua_close"): in Redis's Lua the unexported functions of one source file
// sit together, so the nearest exported one names the file's
// neighbourhood (after lua_close: lstring.c, ltable.c, lvm.c). An unnamed
// address of another object (libc, jemalloc, the vDSO) keeps that
// object's name. Kernel symbols are summed as one entry.
func summarizePerf(report []byte, dso string, syms []symbol, n int) string {
	share := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		m := perfLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		p, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		obj, name := m[2], m[4]
		switch {
		case m[3] == "k":
			name = "(kernel)"
		case strings.HasPrefix(name, "0x") && obj != dso:
			name = "(unnamed, in " + obj + ")"
		case strings.HasPrefix(name, "0x"):
			name = "(unnamed)"
			if a, err := strconv.ParseUint(name0x(m[4]), 16, 64); err == nil {
				i := sort.Search(len(syms), func(i int) bool { return syms[i].addr > a }) - 1
				if i >= 0 {
					name = "(unnamed, after " + syms[i].name + ")"
				}
			}
		}
		share[name] += p
	}
	type entry struct {
		name string
		p    float64
	}
	var es []entry
	for k, v := range share {
		es = append(es, entry{k, v})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].p > es[j].p })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%6s  %s\n", "share", "function (perf record -F 999 -p <redis-server>; perf report --sort dso,sym)")
	for i, e := range es {
		if i == n {
			break
		}
		fmt.Fprintf(&sb, "%5.1f%%  %s\n", e.p, e.name)
	}
	return strings.TrimRight(sb.String(), "\n")
}

func name0x(s string) string { return strings.TrimPrefix(strings.Fields(s)[0], "0x") }
