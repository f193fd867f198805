package sfu

// munger maps a publisher's sequence numbers and timestamps onto one continuous stream
// for one subscriber. The stream is cut into segments (the first packet, and every
// resume after a pause or a mute); within a segment outgoing values are the incoming
// ones plus fixed offsets, and each new segment continues where the previous one
// ended: the next sequence number, and a timestamp advanced by the wall-clock time that
// passed. So a subscriber never sees a sequence gap it would ask to be retransmitted,
// nor time running backwards.
type munger struct {
	clockRate uint32

	started bool
	// inSegment is false between a pause and the next segment's first packet.
	inSegment bool
	seqOffset uint16
	tsOffset  uint32
	// segStart and highestIn are incoming sequence numbers of the current segment.
	segStart  uint16
	highestIn uint16
	// lastSeqOut, lastTSOut and lastOutAt describe the newest packet sent.
	lastSeqOut uint16
	lastTSOut  uint32
	lastOutAt  int64
}

// startSegment begins a segment whose first packet has seq and ts, arriving at now
// (Unix nanoseconds).
func (m *munger) startSegment(seq uint16, ts uint32, now int64) {
	if m.started {
		ticks := uint32(1)
		if elapsed := now - m.lastOutAt; elapsed > 0 && m.clockRate > 0 {
			ticks = max(uint32(uint64(elapsed)*uint64(m.clockRate)/1e9), 1)
		}
		m.seqOffset = m.lastSeqOut + 1 - seq
		m.tsOffset = m.lastTSOut + ticks - ts
	}
	m.started = true
	m.inSegment = true
	m.segStart = seq
	m.highestIn = seq - 1
}

// filler returns the sequence number and timestamp of a packet the server makes up
// (padding, silence) between segments: the next number, and a timestamp tsStep later.
// The first one of a stream starts at seq and ts.
func (m *munger) filler(seq uint16, ts, tsStep uint32, now int64) (uint16, uint32) {
	if m.started {
		seq, ts = m.lastSeqOut+1, m.lastTSOut+tsStep
	}
	m.started = true
	m.lastSeqOut, m.lastTSOut, m.lastOutAt = seq, ts, now
	return seq, ts
}

// pause ends the current segment: the next packet forwarded starts a new one.
func (m *munger) pause() { m.inSegment = false }

// munge returns the outgoing sequence number and timestamp of a packet of the current
// segment, or ok false for a packet from before the segment began (a late packet of a
// previous one).
func (m *munger) munge(seq uint16, ts uint32, now int64) (seqOut uint16, tsOut uint32, ok bool) {
	if int16(seq-m.segStart) < 0 {
		return 0, 0, false
	}
	seqOut, tsOut = seq+m.seqOffset, ts+m.tsOffset
	if int16(seq-m.highestIn) > 0 {
		m.highestIn = seq
		m.lastSeqOut, m.lastTSOut, m.lastOutAt = seqOut, tsOut, now
	}
	return seqOut, tsOut, true
}

// skip drops the newest packet of the segment without leaving a gap: later packets
// are numbered as if it never existed.
func (m *munger) skip(seq uint16) {
	if int16(seq-m.highestIn) > 0 {
		m.highestIn = seq
		m.seqOffset--
	}
}
