package rtc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/datachannel"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/usher-rtc/usher/internal/rtc/sfu"
)

// Data channel labels used by LiveKit clients and servers.
const (
	ReliableLabel = "_reliable"
	LossyLabel    = "_lossy"
)

// MaxDataMessage bounds one data channel message, in bytes.
const MaxDataMessage = 64 << 10

// maxPendingCandidates bounds ICE candidates held before the remote description is set.
const maxPendingCandidates = 64

// Errors of transports.
var (
	ErrDataChannelNotOpen = errors.New("data channel is not open")
	ErrBadCandidate       = errors.New("malformed ICE candidate")
	ErrBadSDP             = errors.New("malformed session description")
)

// Role says which side offers on a transport.
type Role int

// Transport roles.
const (
	// Publisher: the client offers, the server answers. Receives the client's media and
	// data channels. In single peer connection mode it is the only transport.
	Publisher Role = iota
	// Subscriber: the server offers, with its own data channels.
	Subscriber
)

func (r Role) String() string {
	if r == Subscriber {
		return "subscriber"
	}
	return "publisher"
}

// Handler receives a transport's events. Callbacks run on Pion goroutines and must not
// block.
type Handler struct {
	// OnICECandidate is called with each local candidate as JSON (RTCIceCandidateInit).
	OnICECandidate func(init string)
	// OnConnected is called once the transport is connected (ICE and DTLS).
	OnConnected func()
	// OnFailed is called when the transport fails or is closed by the remote.
	OnFailed func()
	// OnOffer is called with a server-made offer that must be signalled (Subscriber only).
	OnOffer func(sdp string)
	// OnData is called with each message received on a data channel.
	OnData func(kind livekit.DataPacket_Kind, data []byte)
	// OnDataOpen is called when a data channel of that kind opens.
	OnDataOpen func(kind livekit.DataPacket_Kind)
	// OnMedia is called when a published track's media starts arriving, with the
	// receiver that forwards it, the client's track id (AddTrackRequest.cid) and the
	// media section's mid. The receiver runs until the track or the transport ends;
	// OnMediaEnded is called then.
	OnMedia      func(r *sfu.Receiver, cid, mid string)
	OnMediaEnded func(r *sfu.Receiver)
	// OnMediaLayer is called when a stream of a published track starts: the track's
	// only one, or one simulcast layer (rid) of it, with its SSRC.
	OnMediaLayer func(cid, rid string, ssrc uint32)
}

// Transport is one peer connection of a participant.
type Transport struct {
	role Role
	pc   *webrtc.PeerConnection
	h    Handler

	mu               sync.Mutex
	pending          []webrtc.ICECandidateInit
	hasRemote        bool
	remoteUfrag      string
	ufrags           []string // remote ufrags seen, newest last
	offerOutstanding bool
	renegotiate      bool
	restartICE       bool
	channels         map[string]*webrtc.DataChannel
	downs            map[string]*webrtc.RTPSender // by track SID
	downTracks       map[string]*sfu.DownTrack    // by track SID
	receivers        map[string]*sfu.Receiver     // by the client's track id
	stop             chan struct{}                // closed by Close
	closed           bool
	connected        bool
	wg               sync.WaitGroup

	// While a description is being made, local candidates are held back: they must
	// not reach the client before the offer or answer they belong to.
	candMu    sync.Mutex
	holding   bool
	heldCands []string
}

// NewTransport creates a peer connection. A Subscriber creates the _reliable and _lossy
// data channels; a Publisher accepts the client's.
func (e *Engine) NewTransport(role Role, h Handler) (*Transport, error) {
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	t := &Transport{role: role, pc: pc, h: h, channels: make(map[string]*webrtc.DataChannel), downs: make(map[string]*webrtc.RTPSender), downTracks: make(map[string]*sfu.DownTrack), receivers: make(map[string]*sfu.Receiver), stop: make(chan struct{})}

	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || t.h.OnICECandidate == nil {
			return
		}
		b, err := json.Marshal(c.ToJSON())
		if err != nil {
			return
		}
		t.candMu.Lock()
		if t.holding {
			t.heldCands = append(t.heldCands, string(b))
			t.candMu.Unlock()
			return
		}
		t.candMu.Unlock()
		t.h.OnICECandidate(string(b))
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			t.mu.Lock()
			first := !t.connected
			t.connected = true
			t.mu.Unlock()
			if first && t.h.OnConnected != nil {
				t.h.OnConnected()
			}
		case webrtc.PeerConnectionStateFailed:
			t.mu.Lock()
			t.connected = false
			t.mu.Unlock()
			if t.h.OnFailed != nil {
				t.h.OnFailed()
			}
		case webrtc.PeerConnectionStateDisconnected:
			t.mu.Lock()
			t.connected = false
			t.mu.Unlock()
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) { t.adoptChannel(dc) })
	pc.OnTrack(t.receive)

	if role == Subscriber {
		ordered := true
		unordered := false
		var zero uint16
		rel, err := pc.CreateDataChannel(ReliableLabel, &webrtc.DataChannelInit{Ordered: &ordered})
		if err == nil {
			t.adoptChannel(rel)
			var lossy *webrtc.DataChannel
			lossy, err = pc.CreateDataChannel(LossyLabel, &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero})
			if err == nil {
				t.adoptChannel(lossy)
			}
		}
		if err != nil {
			_ = pc.Close()
			return nil, fmt.Errorf("data channels: %w", err)
		}
	}
	t.wg.Add(1)
	go t.sendReports()
	return t, nil
}

func kindOfLabel(label string) (livekit.DataPacket_Kind, bool) {
	switch label {
	case ReliableLabel:
		return livekit.DataPacket_RELIABLE, true
	case LossyLabel:
		return livekit.DataPacket_LOSSY, true
	}
	return 0, false
}

func (t *Transport) adoptChannel(dc *webrtc.DataChannel) {
	kind, ok := kindOfLabel(dc.Label())
	if !ok {
		return
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		_ = dc.Close()
		return
	}
	t.channels[dc.Label()] = dc
	t.mu.Unlock()
	dc.OnOpen(func() {
		rw, err := dc.Detach()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return
		}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.readData(kind, rw)
		if t.h.OnDataOpen != nil {
			t.h.OnDataOpen(kind)
		}
	})
}

// smallDataBuffer is the read buffer a data channel starts with: most messages are
// small. A larger message is read again into a buffer of the largest size SCTP allows.
const smallDataBuffer = 2048

// sctpMaxMessage is the largest message Pion's SCTP accepts.
const sctpMaxMessage = 65536

// readData delivers a data channel's messages to OnData until the channel closes.
func (t *Transport) readData(kind livekit.DataPacket_Kind, rw datachannel.ReadWriteCloser) {
	defer t.wg.Done()
	small := make([]byte, smallDataBuffer)
	for {
		buf := small
		n, _, err := rw.ReadDataChannel(buf)
		if errors.Is(err, io.ErrShortBuffer) {
			buf = make([]byte, sctpMaxMessage)
			n, _, err = rw.ReadDataChannel(buf)
		}
		if err != nil {
			return
		}
		if n > MaxDataMessage || t.h.OnData == nil {
			continue
		}
		t.h.OnData(kind, buf[:n])
	}
}

// Role returns the transport's role.
func (t *Transport) Role() Role { return t.role }

// Connected reports whether ICE and DTLS are connected.
func (t *Transport) Connected() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.connected
}

// Negotiate makes a new offer (Subscriber) and hands it to OnOffer. With iceRestart the
// offer restarts ICE. When an offer is outstanding, the new one follows its answer.
func (t *Transport) Negotiate(iceRestart bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	return t.negotiateLocked(iceRestart)
}

func (t *Transport) negotiateLocked(iceRestart bool) error {
	if t.offerOutstanding {
		t.renegotiate = true
		t.restartICE = t.restartICE || iceRestart
		return nil
	}
	return t.offerLocked(iceRestart)
}

// hold holds local candidates back until release.
func (t *Transport) hold() {
	t.candMu.Lock()
	t.holding = true
	t.candMu.Unlock()
}

// release signals the candidates held back, in order.
func (t *Transport) release() {
	for {
		t.candMu.Lock()
		held := t.heldCands
		t.heldCands = nil
		if len(held) == 0 {
			t.holding = false
			t.candMu.Unlock()
			return
		}
		t.candMu.Unlock()
		for _, c := range held {
			t.h.OnICECandidate(c)
		}
	}
}

func (t *Transport) offerLocked(iceRestart bool) error {
	t.hold()
	defer t.release()
	var opts *webrtc.OfferOptions
	if iceRestart {
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	offer, err := t.pc.CreateOffer(opts)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	// Signal the offer before setting it: local candidates start flowing only then, so
	// they always follow the offer on the signal connection.
	if t.h.OnOffer != nil {
		t.h.OnOffer(offer.SDP)
	}
	if err := t.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	t.offerOutstanding = true
	return nil
}

// HandleAnswer applies the client's answer to the server's offer (Subscriber).
func (t *Transport) HandleAnswer(sdp string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if !t.offerOutstanding {
		return fmt.Errorf("%w: an answer arrived but no offer is outstanding", ErrBadSDP)
	}
	if err := t.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	t.offerOutstanding = false
	t.remoteSetLocked(sdp)
	if t.renegotiate {
		restart := t.restartICE
		t.renegotiate, t.restartICE = false, false
		return t.offerLocked(restart)
	}
	return nil
}

// HandleOffer applies the client's offer and hands the server's answer to onAnswer
// (Publisher). An offer with new ICE credentials restarts ICE. onAnswer runs before
// local candidates can be signalled, so they always follow the answer.
func (t *Transport) HandleOffer(sdp string, onAnswer func(sdp string)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	t.hold()
	defer t.release()
	if err := t.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	t.remoteSetLocked(sdp)
	preferRED(t.pc)
	answer, err := t.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	onAnswer(answer.SDP)
	if err := t.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set local answer: %w", err)
	}
	return nil
}

// remoteSetLocked records a new remote description and applies the candidates held
// for it. Candidates of an older ICE generation are dropped; candidates of a newer one
// (a client may trickle them before its restart offer arrives) stay held.
func (t *Transport) remoteSetLocked(sdp string) {
	t.hasRemote = true
	t.remoteUfrag = iceUfrag(sdp)
	keep := t.pending[:0]
	for _, c := range t.pending {
		switch uf := candidateUfrag(c); {
		case uf == "" || uf == t.remoteUfrag:
			_ = t.pc.AddICECandidate(c)
		case !t.seenUfrag(uf):
			keep = append(keep, c)
		}
	}
	t.pending = keep
	t.ufrags = append(t.ufrags, t.remoteUfrag)
	if len(t.ufrags) > 8 {
		t.ufrags = t.ufrags[1:]
	}
}

func (t *Transport) seenUfrag(uf string) bool {
	for _, u := range t.ufrags {
		if u == uf {
			return true
		}
	}
	return false
}

func candidateUfrag(c webrtc.ICECandidateInit) string {
	if c.UsernameFragment == nil {
		return ""
	}
	return *c.UsernameFragment
}

// iceUfrag returns the first a=ice-ufrag of a session description.
func iceUfrag(sdp string) string {
	for _, line := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}

// AddICECandidate adds a remote candidate given as RTCIceCandidateInit JSON. Candidates
// arriving before the remote description are held until it is set.
func (t *Transport) AddICECandidate(init string) error {
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal([]byte(init), &c); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if uf := candidateUfrag(c); !t.hasRemote || (uf != "" && uf != t.remoteUfrag && !t.seenUfrag(uf)) {
		// Before the description it belongs to: hold it.
		if len(t.pending) >= maxPendingCandidates {
			return fmt.Errorf("%w: more than %d candidates before their session description", ErrBadCandidate, maxPendingCandidates)
		}
		t.pending = append(t.pending, c)
		return nil
	}
	if err := t.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCandidate, err)
	}
	return nil
}

// DataOpen reports whether the data channel of kind is open.
func (t *Transport) DataOpen(kind livekit.DataPacket_Kind) bool {
	dc := t.channel(kind)
	return dc != nil && dc.ReadyState() == webrtc.DataChannelStateOpen
}

func (t *Transport) channel(kind livekit.DataPacket_Kind) *webrtc.DataChannel {
	label := ReliableLabel
	if kind == livekit.DataPacket_LOSSY {
		label = LossyLabel
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.channels[label]
}

// DataBuffered returns how many bytes sent on the data channel of kind the peer has
// not acknowledged yet.
func (t *Transport) DataBuffered(kind livekit.DataPacket_Kind) uint64 {
	if dc := t.channel(kind); dc != nil {
		return dc.BufferedAmount()
	}
	return 0
}

// SendData sends one message on the data channel of kind.
func (t *Transport) SendData(kind livekit.DataPacket_Kind, data []byte) error {
	dc := t.channel(kind)
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return ErrDataChannelNotOpen
	}
	return dc.Send(data)
}

// Close closes the peer connection and waits for the transport's goroutines.
func (t *Transport) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	close(t.stop)
	t.mu.Unlock()
	_ = t.pc.Close()
	t.wg.Wait()
}

// receive starts forwarding a stream the client publishes: a track, or one simulcast
// layer of one (Pion reports each rid as a track of its own). The layers of a track
// share one receiver. Each stream is read on its own goroutine until it or the
// transport ends, and another goroutine reads its RTCP (sender reports), which the
// report interceptor needs.
func (t *Transport) receive(track *webrtc.TrackRemote, rtpReceiver *webrtc.RTPReceiver) {
	t.mu.Lock()
	if t.closed || t.h.OnMedia == nil {
		t.mu.Unlock()
		return
	}
	t.wg.Add(2)
	r, known := t.receivers[track.ID()]
	if !known {
		r = sfu.NewReceiver(sfu.ReceiverParams{
			TrackID:    track.ID(),
			Kind:       track.Kind(),
			Codec:      track.Codec(),
			Extensions: rtpReceiver.GetParameters().HeaderExtensions,
		})
		t.receivers[track.ID()] = r
	}
	t.mu.Unlock()
	if !known {
		mid := ""
		for _, tr := range t.pc.GetTransceivers() {
			if tr.Receiver() == rtpReceiver {
				mid = tr.Mid()
			}
		}
		t.h.OnMedia(r, track.ID(), mid)
	}
	ssrc := uint32(track.SSRC())
	if t.h.OnMediaLayer != nil {
		t.h.OnMediaLayer(track.ID(), track.RID(), ssrc)
	}
	go func() {
		defer t.wg.Done()
		last := r.Run(sfu.LayerOfRID(track.RID()), trackSource{track}, func() {
			_ = t.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		})
		if !last {
			return
		}
		t.mu.Lock()
		if t.receivers[track.ID()] == r {
			delete(t.receivers, track.ID())
		}
		t.mu.Unlock()
		if t.h.OnMediaEnded != nil {
			t.h.OnMediaEnded(r)
		}
	}()
	go func() {
		defer t.wg.Done()
		// Each simulcast layer has its own RTCP reader: ReadRTCP would read the first
		// layer's, which may not exist yet.
		rid := track.RID()
		layerIdx := sfu.LayerOfRID(rid)
		for {
			var pkts []rtcp.Packet
			var err error
			if rid != "" {
				pkts, _, err = rtpReceiver.ReadSimulcastRTCP(rid)
			} else {
				pkts, _, err = rtpReceiver.ReadRTCP()
			}
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == ssrc {
					r.SetSenderReport(layerIdx, sr.NTPTime, sr.RTPTime)
				}
			}
		}
	}()
}

// trackSource reads a remote track's RTP for a receiver.
type trackSource struct{ t *webrtc.TrackRemote }

func (s trackSource) Read(b []byte) (int, error) {
	n, _, err := s.t.Read(b)
	return n, err
}

// AddDownTrack sends a subscribed track to the client, offering only the publisher's
// codec for it. A Subscriber renegotiates at once. On a Publisher (single peer
// connection mode) the track takes a free media section the client offered; newSection
// reports that there was none, so the client must add one (media_sections_requirement)
// before its next offer. The track's RTCP (keyframe requests; NACKs are answered by the
// interceptors) is read on its own goroutine.
func (t *Transport) AddDownTrack(d *sfu.DownTrack) (newSection bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false, ErrClosed
	}
	if _, ok := t.downs[d.ID()]; ok {
		return false, nil
	}
	sender, err := t.pc.AddTrack(d)
	if err != nil {
		return false, fmt.Errorf("adding track %s: %w", d.ID(), err)
	}
	for _, tr := range t.pc.GetTransceivers() {
		if tr.Sender() == sender {
			newSection = tr.Mid() == ""
			if err := tr.SetCodecPreferences(d.Codecs()); err != nil {
				_ = t.pc.RemoveTrack(sender)
				return false, fmt.Errorf("track %s: %w", d.ID(), err)
			}
		}
	}
	t.downs[d.ID()] = sender
	t.downTracks[d.ID()] = d
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					d.RequestKeyframe()
				case *rtcp.TransportLayerNack:
					if p.MediaSSRC == d.SSRC() {
						d.HandleNack(p)
					}
				case *rtcp.ReceiverEstimatedMaximumBitrate:
					d.HandleREMB(p.Bitrate, time.Now())
				case *rtcp.ReceiverReport:
					if ssrc := d.SSRC(); ssrc != 0 {
						for _, rep := range p.Reports {
							if rep.SSRC == ssrc {
								d.HandleReceptionReport(rep, time.Now())
							}
						}
					}
				}
			}
		}
	}()
	if t.role == Subscriber {
		return false, t.negotiateLocked(false)
	}
	return newSection, nil
}

// RemoveDownTrack stops sending a track to the client and renegotiates (Subscriber).
func (t *Transport) RemoveDownTrack(trackSID string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	sender, ok := t.downs[trackSID]
	if !ok || t.closed {
		return nil
	}
	delete(t.downs, trackSID)
	delete(t.downTracks, trackSID)
	if err := t.pc.RemoveTrack(sender); err != nil {
		return fmt.Errorf("removing track %s: %w", trackSID, err)
	}
	if t.role == Subscriber {
		return t.negotiateLocked(false)
	}
	return nil
}

// defaultCodecs are the codec parameters offered for a codec no publisher sends yet (a
// backup codec a subscriber may ask for), by lower-case MIME type.
var defaultCodecs = map[string]webrtc.RTPCodecCapability{
	"audio/opus": {MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
	"audio/pcmu": {MimeType: webrtc.MimeTypePCMU, ClockRate: 8000},
	"audio/pcma": {MimeType: webrtc.MimeTypePCMA, ClockRate: 8000},
	"video/vp8":  {MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	"video/vp9":  {MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"},
	"video/h264": {MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
	"video/av1":  {MimeType: webrtc.MimeTypeAV1, ClockRate: 90000},
}

// NewDownTrack returns a subscriber's copy of a track that may be sent in codecs (MIME
// types, preferred first), from sources (one receiver per codec sent so far).
func NewDownTrack(id, streamID string, video bool, codecs []string, sources []*sfu.Receiver, onCodecWanted func(mime string)) *sfu.DownTrack {
	kind := webrtc.RTPCodecTypeAudio
	if video {
		kind = webrtc.RTPCodecTypeVideo
	}
	var params []webrtc.RTPCodecParameters
	add := func(c webrtc.RTPCodecParameters) {
		for _, p := range params {
			if strings.EqualFold(p.MimeType, c.MimeType) {
				return
			}
		}
		params = append(params, c)
	}
	for _, mime := range codecs {
		found := false
		for _, s := range sources {
			if strings.EqualFold(s.Codec().MimeType, mime) {
				add(s.Codec())
				found = true
			}
		}
		if c, ok := defaultCodecs[strings.ToLower(mime)]; ok && !found {
			add(webrtc.RTPCodecParameters{RTPCodecCapability: c})
		}
	}
	for _, s := range sources { // a source whose codec the track info does not name yet
		add(s.Codec())
		if strings.EqualFold(s.Codec().MimeType, sfu.MimeTypeRED) {
			// Subscribers without RED get the Opus inside it.
			add(webrtc.RTPCodecParameters{RTPCodecCapability: defaultCodecs["audio/opus"]})
		}
	}
	return sfu.NewDownTrack(sfu.DownTrackParams{
		ID: id, StreamID: streamID, Kind: kind, Codecs: params, Sources: sources, OnCodecWanted: onCodecWanted,
	})
}

// redFirst are the codecs a publisher's audio is received in, preferred first: Opus in
// RED (redundant audio, which survives loss far better), then plain Opus.
var redFirst = []webrtc.RTPCodecParameters{
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: sfu.MimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"}, PayloadType: 63},
	{RTPCodecCapability: defaultCodecs["audio/opus"], PayloadType: 111},
}

// preferRED makes the answer to a publisher's offer choose RED for the audio the
// client sends, when the client offers it, as LiveKit does. Transceivers that carry
// subscribed tracks to the client keep their own codecs.
func preferRED(pc *webrtc.PeerConnection) {
	for _, tr := range pc.GetTransceivers() {
		if tr.Kind() != webrtc.RTPCodecTypeAudio || (tr.Sender() != nil && tr.Sender().Track() != nil) {
			continue
		}
		_ = tr.SetCodecPreferences(redFirst)
	}
}

// reportInterval is how often subscribers get RTCP sender reports.
const reportInterval = time.Second

// sendReports sends the client a sender report for every track it receives, every
// reportInterval, until the transport closes.
func (t *Transport) sendReports() {
	defer t.wg.Done()
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			t.mu.Lock()
			var pkts []rtcp.Packet
			for _, s := range t.downs {
				if d, ok := s.Track().(*sfu.DownTrack); ok {
					if sr := d.SenderReport(now); sr != nil {
						pkts = append(pkts, sr)
					}
				}
			}
			t.mu.Unlock()
			if len(pkts) > 0 {
				_ = t.pc.WriteRTCP(pkts)
			}
		}
	}
}

// QualityStats are what a transport measured of its connection over a window: the loss
// of the streams its client publishes, and the worst of what the client reports of the
// streams it receives.
type QualityStats struct {
	// UpExpected and UpLost count the published packets sent and never received.
	UpExpected, UpLost uint32
	// DownLoss is the highest fraction lost a subscriber report gave (0 to 1); Jitter
	// and RTT the highest reported jitter and measured round trip (0: unknown).
	DownLoss    float64
	Jitter, RTT time.Duration
	// DownReports counts the streams with a report in the window.
	DownReports int
}

// TakeQualityStats returns the window's stats since the last call (since is when that
// was).
func (t *Transport) TakeQualityStats(since time.Time) QualityStats {
	t.mu.Lock()
	recvs := make([]*sfu.Receiver, 0, len(t.receivers))
	for _, r := range t.receivers {
		recvs = append(recvs, r)
	}
	downs := make([]*sfu.DownTrack, 0, len(t.downTracks))
	for _, d := range t.downTracks {
		downs = append(downs, d)
	}
	t.mu.Unlock()
	var q QualityStats
	for _, r := range recvs {
		e, l := r.TakeLoss()
		q.UpExpected += e
		q.UpLost += l
	}
	for _, d := range downs {
		q.DownLoss = max(q.DownLoss, d.TakeLinkLoss())
		rx, ok := d.Reception(since)
		if !ok {
			continue
		}
		q.DownReports++
		q.DownLoss = max(q.DownLoss, rx.Loss)
		q.Jitter = max(q.Jitter, rx.Jitter)
		q.RTT = max(q.RTT, rx.RTT)
	}
	return q
}

// DownTracks returns the tracks the transport sends its client.
func (t *Transport) DownTracks() []*sfu.DownTrack {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*sfu.DownTrack, 0, len(t.downTracks))
	for _, d := range t.downTracks {
		out = append(out, d)
	}
	return out
}
