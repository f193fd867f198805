package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// mediaRow is one line of the media table: a figure computed from each run.
type mediaRow struct {
	name  string
	unit  string // printf verb for one value
	value func(r *mediaResult) float64
	// only restricts the row to loads with audio, plain video or simulcast ("": all).
	only string
}

func latRow(name string, pick func(r *mediaResult) []time.Duration, p float64, only string) mediaRow {
	return mediaRow{name: name, unit: "%.2f", only: only, value: func(r *mediaResult) float64 { return ms(percentile0(pick(r), p)) }}
}

var mediaRows = []mediaRow{
	{name: "server CPU per forwarded packet (µs)", unit: "%.2f", value: (*mediaResult).cpuPerPacket},
	{name: "server CPU (% of one core)", unit: "%.0f", value: func(r *mediaResult) float64 { return r.cpuPercent(r.serverTicks) }},
	{name: "server RSS per subscription (KB)", unit: "%.0f", value: (*mediaResult).rssPerSub},
	{name: "  same, with RSS at the end of the window (KB)", unit: "%.0f", value: func(r *mediaResult) float64 {
		return float64(r.rssEnd-r.rssBase) / float64(r.subsWanted)
	}},
	{name: "server RSS before publishing (MB)", unit: "%.1f", value: func(r *mediaResult) float64 { return float64(r.rssBase) / 1024 }},
	{name: "server RSS, subscriptions up (MB)", unit: "%.1f", value: func(r *mediaResult) float64 { return float64(r.rssUp) / 1024 }},
	{name: "server RSS, end of window (MB)", unit: "%.1f", value: func(r *mediaResult) float64 { return float64(r.rssEnd) / 1024 }},
	latRow("latency p50, all frames (ms)", (*mediaResult).allLat, 0.5, ""),
	latRow("latency p99, all frames (ms)", (*mediaResult).allLat, 0.99, ""),
	latRow("  audio p50 (ms)", func(r *mediaResult) []time.Duration { return r.audioLat }, 0.5, onlyAudio),
	latRow("  audio p99 (ms)", func(r *mediaResult) []time.Duration { return r.audioLat }, 0.99, onlyAudio),
	latRow("  video p50, frame complete (ms)", func(r *mediaResult) []time.Duration { return r.videoLat }, 0.5, onlyPlainVideo),
	latRow("  video p99, frame complete (ms)", func(r *mediaResult) []time.Duration { return r.videoLat }, 0.99, onlyPlainVideo),
	latRow("  video p50, first packet (ms)", func(r *mediaResult) []time.Duration { return r.videoFirst }, 0.5, ""),
	latRow("  video p99, first packet (ms)", func(r *mediaResult) []time.Duration { return r.videoFirst }, 0.99, ""),
	{name: "packets forwarded per second", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.packets) / r.secs() }},
	{name: "Mbit/s forwarded (RTP packets)", unit: "%.1f", value: func(r *mediaResult) float64 { return float64(r.st.bytes) * 8 / 1e6 / r.secs() }},
	{name: "frames received, % of sent x subscribers", unit: "%.2f", value: func(r *mediaResult) float64 { return pct(r.st.frames, r.sent) }},
	{name: "frames lost (never seen)", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.framesLost) }},
	{name: "frames out of order", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.framesLate) }},
	{name: "video frames incomplete at their last packet", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.framesIncomplete) }},
	{name: "packets lost (sequence gaps)", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.pktLost) }},
	{name: "packets out of order", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.pktLate) }},
	{name: "UDP datagrams dropped at the server's sockets", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.serverDrops) }},
	{name: "UDP datagrams dropped at the clients' sockets", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.clientDrops) }},
	{name: "padding-only packets per second", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.st.padding) / r.secs() }},
	{name: "video frames of layer f (720p), %", unit: "%.1f", only: onlySimulcast, value: func(r *mediaResult) float64 {
		return pct(r.st.layerFrames[2], r.st.layerFrames[0]+r.st.layerFrames[1]+r.st.layerFrames[2])
	}},
	{name: "video frames of layer h (360p), %", unit: "%.1f", only: onlySimulcast, value: func(r *mediaResult) float64 {
		return pct(r.st.layerFrames[1], r.st.layerFrames[0]+r.st.layerFrames[1]+r.st.layerFrames[2])
	}},
	{name: "subscriptions with media, of wanted", unit: "%.0f", value: func(r *mediaResult) float64 { return float64(r.subsUp) }},
	{name: "client CPU, bench process (% of one core)", unit: "%.0f", value: func(r *mediaResult) float64 { return r.cpuPercent(r.clientTicks) }},
	{name: "other processes' CPU (% of one core)", unit: "%.0f", value: (*mediaResult).otherPercent},
	{name: "machine CPU busy (% of all cores)", unit: "%.0f", value: func(r *mediaResult) float64 { return pct(r.machine.busy, r.machine.total) }},
	{name: "load average (1 min) as the window opened", unit: "%.2f", value: func(r *mediaResult) float64 { return r.loadAvg }},
}

// cell is the median of the runs' values and, for more than one run, their range.
func cell(rs []*mediaResult, row mediaRow) string {
	if len(rs) == 0 {
		return "-"
	}
	var vs []float64
	for _, r := range rs {
		vs = append(vs, row.value(r))
	}
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	s := fmt.Sprintf(row.unit, med)
	if len(vs) > 1 {
		s += fmt.Sprintf(" ["+row.unit+"–"+row.unit+"]", vs[0], vs[len(vs)-1])
	}
	return s
}

// printMediaTable prints one table: a section per load, a column per server, each
// cell the median over the runs [min–max].
func printMediaTable(loads []mediaLoad, targets []string, results map[string]map[string][]*mediaResult, failed map[string]int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	header := []string{"metric"}
	for _, t := range targets {
		label := t
		if t == targetLiveKit {
			label = "livekit-server"
		}
		header = append(header, label)
	}
	for _, l := range loads {
		fmt.Fprintf(w, "\n== %s: %s; %d subscriptions; median of the runs [min–max]\n", l.name, l.desc, l.subscriptions())
		fmt.Fprintln(w, strings.Join(header, "\t"))
		cells := []string{"runs measured (failed)"}
		for _, t := range targets {
			cells = append(cells, fmt.Sprintf("%d (%d)", len(results[l.name][t]), failed[l.name+"/"+t]))
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
		for _, row := range mediaRows {
			if !row.appliesTo(l) {
				continue
			}
			cells := []string{row.name}
			for _, t := range targets {
				cells = append(cells, cell(results[l.name][t], row))
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
	}
	_ = w.Flush()
	fmt.Print(mediaLegend)
}

const mediaLegend = `
How the figures are made (one fresh server process per run; clients and server share the machine):
  CPU per forwarded packet: the server's utime+stime (/proc/<pid>/stat, all threads) over the window,
    divided by the RTP packets with a payload all subscribers received in the window.
  RSS per subscription: (RSS once every subscriber got media on every track - RSS after everyone joined,
    before publishing) / subscriptions.
  Latency: from the publisher's send time, stamped in every frame just before the SDK packetizes it, to
    the subscriber reading the frame's last (marker) packet, every packet of the frame there; frames with
    a packet missing at that moment are counted as incomplete instead. "First packet": to the frame's
    first packet. Audio frames are one packet.
  Frames lost: gaps in the frame numbers each subscription saw (net of frames that came late).
  Packets lost: gaps in the RTP sequence numbers each subscriber received (net of late packets).
  Other processes' CPU: the machine's busy time (/proc/stat) minus the server's and the bench's.
`

// Which loads a row applies to.
const (
	onlyAudio      = "audio"
	onlyPlainVideo = "plain video"
	onlySimulcast  = "simulcast"
)

// appliesTo reports whether the row has a value for load l.
func (row mediaRow) appliesTo(l mediaLoad) bool {
	switch row.only {
	case onlyAudio:
		return l.kind() != publishSimulcast
	case onlyPlainVideo:
		return l.kind() == publishAudioVideo
	case onlySimulcast:
		return l.kind() == publishSimulcast
	}
	return true
}
