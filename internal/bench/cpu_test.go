package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CPU time of processes, read from /proc: utime+stime of /proc/<pid>/stat
// (all threads of the process, user and system), in clock ticks of
// USER_HZ, which is 100 on Linux (10 ms resolution).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time a process has used since it started; false when
// it is gone.
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: fields count from after
	// its closing parenthesis, where field 3 (state) is index 0.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(fields[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

// machineCPU is the whole machine's busy and total CPU time (/proc/stat,
// every core): busy is everything but idle and iowait.
func machineCPU() (busy, total time.Duration) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	for i, f := range fields[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		v, _ := strconv.ParseInt(f, 10, 64)
		total += time.Duration(v) * clockTick
		if i != 3 && i != 4 { // idle, iowait
			busy += time.Duration(v) * clockTick
		}
	}
	return busy, total
}

// cpuPart is a part of the system whose CPU is measured: pids lists the
// processes that make it up at the moment (Postgres backends come and go).
type cpuPart struct {
	name string
	pids func() []int
}

// cpuMeter measures the CPU each part uses over a window: per process, its
// CPU at the end minus at the start; a process first seen at the end
// counts whole (it started within the window); one gone by the end is lost
// (counted in lost, so that a reader knows).
type cpuMeter struct {
	parts         []cpuPart
	start         []map[int]time.Duration
	busy0, total0 time.Duration
	t0            time.Time
}

// cpuWindow is what a meter measured.
type cpuWindow struct {
	wall         time.Duration
	part         map[string]time.Duration
	lost         int           // processes gone before the end of the window
	machineBusy  time.Duration // every process on the machine
	machineTotal time.Duration // wall × cores
}

func startCPU(parts []cpuPart) *cpuMeter {
	m := &cpuMeter{parts: parts, t0: time.Now()}
	for _, p := range parts {
		at := map[int]time.Duration{}
		for _, pid := range p.pids() {
			if c, ok := procCPU(pid); ok {
				at[pid] = c
			}
		}
		m.start = append(m.start, at)
	}
	m.busy0, m.total0 = machineCPU()
	return m
}

func (m *cpuMeter) stop() cpuWindow {
	w := cpuWindow{wall: time.Since(m.t0), part: map[string]time.Duration{}}
	busy, total := machineCPU()
	w.machineBusy, w.machineTotal = busy-m.busy0, total-m.total0
	for i, p := range m.parts {
		seen := map[int]bool{}
		for _, pid := range p.pids() {
			c, ok := procCPU(pid)
			if !ok {
				continue
			}
			seen[pid] = true
			w.part[p.name] += c - m.start[i][pid] // 0 at the start when new
		}
		for pid := range m.start[i] {
			if !seen[pid] {
				w.lost++
			}
		}
	}
	return w
}

// add sums windows (the rounds of one scenario).
func (w *cpuWindow) add(o cpuWindow) {
	if w.part == nil {
		w.part = map[string]time.Duration{}
	}
	w.wall += o.wall
	w.lost += o.lost
	w.machineBusy += o.machineBusy
	w.machineTotal += o.machineTotal
	for k, v := range o.part {
		w.part[k] += v
	}
}

// The /proc readers, against this process: its parent, and CPU time that
// grows when it works. Runs in every `go test` (no benchmark needed).
func TestProcCPU(t *testing.T) {
	if got := parentPID(os.Getpid()); got != os.Getppid() {
		t.Fatalf("parentPID(self) = %d, want %d", got, os.Getppid())
	}
	before, ok := procCPU(os.Getpid())
	if !ok {
		t.Fatal("procCPU(self): not readable")
	}
	busy0, total0 := machineCPU()
	// Spin until 50 ms of CPU are counted (on a loaded machine that takes
	// longer than 50 ms); 10 s of spinning without is a broken reader.
	x := 0.0
	for start := time.Now(); ; {
		for i := range 100000 {
			x += float64(i)
		}
		if after, _ := procCPU(os.Getpid()); after >= before+50*time.Millisecond {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("CPU time did not grow by 50ms in 10s of spinning (x=%g)", x)
		}
	}
	busy1, total1 := machineCPU()
	if busy1 <= busy0 || total1 <= total0 || busy1-busy0 > total1-total0 {
		t.Fatalf("machine CPU: busy %s -> %s, total %s -> %s", busy0, busy1, total0, total1)
	}
	if _, ok := procCPU(1 << 30); ok {
		t.Fatal("procCPU of a pid that cannot exist: ok")
	}
}
