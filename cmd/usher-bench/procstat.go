package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on every Linux
// architecture Go supports).
const clockTick = 100

// rssKB reads a process's resident set size.
func rssKB(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.Fields(v)[0])
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTicks reads the user and system CPU time (in clock ticks) a process has used,
// all its threads together; pid 0 means this process.
func cpuTicks(pid int) (uint64, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: a /proc path built from a pid
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it start with the
	// state (field 3). utime and stime are fields 14 and 15.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return utime + stime, nil
}

// machineCPU is the machine-wide CPU time from /proc/stat, in clock ticks summed over
// all cores.
type machineCPU struct {
	busy, total uint64
}

func readMachineCPU() (machineCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return machineCPU{}, errors.New("/proc/stat: unexpected format")
	}
	var m machineCPU
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: %w", err)
		}
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		m.total += n
		if i != 3 && i != 4 { // idle, iowait
			m.busy += n
		}
	}
	return m, nil
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// udpDrops sums the drop counters (datagrams the kernel discarded, mostly for a full
// receive buffer) of a process's UDP sockets; pid 0 means this process.
func udpDrops(pid int) (uint64, error) {
	proc := "/proc/self"
	if pid != 0 {
		proc = fmt.Sprintf("/proc/%d", pid)
	}
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(proc + "/fd/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var drops uint64
	for _, table := range []string{"/net/udp", "/net/udp6"} {
		data, err := os.ReadFile(proc + table) //nolint:gosec // G304: a /proc path built from a pid
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			f := strings.Fields(line)
			if len(f) < 13 || !inodes[f[9]] {
				continue
			}
			n, err := strconv.ParseUint(f[12], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", table, err)
			}
			drops += n
		}
	}
	return drops, nil
}
