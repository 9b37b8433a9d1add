package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// cpuTime returns the user+system CPU time a process (all its threads) has
// used so far; pid 0 means this process.
func cpuTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: the fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// rss returns a process's resident set size (VmRSS) in bytes.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// busyTime returns the time every CPU of the machine has spent busy so far
// (user, nice, system, irq, softirq and steal, from /proc/stat): what the
// server and this generator used, plus whatever else ran meanwhile.
func busyTime() (time.Duration, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("/proc/stat: empty")
	}
	fs := strings.Fields(sc.Text())
	if len(fs) < 9 || fs[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseInt(fs[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * clockTick, nil
}

// syscalls returns how many read and write system calls a process has made
// (syscr and syscw in /proc/<pid>/io).
func syscalls(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes, nil
}

// cpuMeter measures, over a window, the CPU time of the server, of this
// generator, and of everything else on the machine, and the server's
// system calls.
type cpuMeter struct {
	pid              int
	extra            []int // more processes (a cluster's second server, Redis), 0 for none
	extra0           []time.Duration
	start            time.Time
	srv0, gen0, all0 time.Duration
	r0, w0           int64
}

func startCPU(pid int, extra ...int) *cpuMeter {
	m := &cpuMeter{pid: pid, extra: extra, start: time.Now()}
	m.extra0 = make([]time.Duration, len(extra))
	for i, p := range extra {
		if p > 0 {
			m.extra0[i], _ = cpuTime(p)
		}
	}
	if pid > 0 {
		m.srv0, _ = cpuTime(pid)
		m.r0, m.w0, _ = syscalls(pid)
	}
	m.gen0, _ = cpuTime(0)
	m.all0, _ = busyTime()
	return m
}

// usage is what a cpuMeter measured.
type usage struct {
	wall, srv, gen time.Duration
	other          time.Duration   // busy time of all CPUs, minus srv and gen
	reads, writes  int64           // the server's read and write system calls
	extra          []time.Duration // CPU of startCPU's extra processes, in order
}

func (m *cpuMeter) stop() usage {
	u := usage{wall: time.Since(m.start)}
	if m.pid > 0 {
		if s, err := cpuTime(m.pid); err == nil {
			u.srv = s - m.srv0
		}
		if r, w, err := syscalls(m.pid); err == nil && m.w0 > 0 {
			u.reads, u.writes = r-m.r0, w-m.w0
		}
	}
	var extra time.Duration
	u.extra = make([]time.Duration, len(m.extra))
	for i, p := range m.extra {
		if p > 0 {
			if t, err := cpuTime(p); err == nil {
				u.extra[i] = t - m.extra0[i]
				extra += u.extra[i]
			}
		}
	}
	g, _ := cpuTime(0)
	u.gen = g - m.gen0
	if all, err := busyTime(); err == nil && m.all0 > 0 {
		u.other = max(0, all-m.all0-u.srv-u.gen-extra)
	}
	return u
}

// pct is d as a percentage of the window (of one CPU).
func (u usage) pct(d time.Duration) float64 { return 100 * d.Seconds() / u.wall.Seconds() }
