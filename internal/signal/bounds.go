package signal

import (
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/usher-rtc/usher/internal/config"
	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
)

// ErrLimitExceeded wraps every refusal of a message, or of one of its fields, that is
// larger than its bound. The message names the field (or message) and the limit, and
// never echoes the input.
var ErrLimitExceeded = errors.New("limit exceeded")

// Bounds of the values clients send. Every repeated, map, string and bytes field of
// every message reachable from SignalRequest, WrappedJoinRequest/JoinRequest and
// DataPacket has an entry in the table built by fieldLimits (a test walks the
// descriptors to keep it so), and each message as a whole has an encoded-size budget.
const (
	// maxSIDLength bounds a server-made ID (PA_…, TR_…, RM_…: about 15 bytes).
	maxSIDLength = 64
	// maxIDLength bounds a client-made ID (UUIDs, stream and request IDs: 36 bytes).
	maxIDLength = 128
	// maxLabelLength bounds short names: a topic, a method, a data channel label, a
	// data track name (the protocol says 256 characters).
	maxLabelLength = 256
	// maxCodecLength bounds a codec or MIME type ("video/H264").
	maxCodecLength = room.MaxCodecNameLength
	// maxEnumList bounds a list of enum values (the enums have at most 8 values).
	maxEnumList = 8
	// maxClientInfoField bounds each ClientInfo string (SDK version, OS, browser…).
	maxClientInfoField = 256
	// maxTrackList bounds a list of tracks or participants a client names in one
	// request (subscriptions, permissions, a resume's sync state): 512 participants
	// with a camera and a microphone each.
	maxTrackList = 1024
	// maxAttributeEntries bounds the entries of an attribute map.
	maxAttributeEntries = 1024
	// maxCandidateLength bounds one ICE candidate init (JSON, ~250 bytes in practice).
	maxCandidateLength = 2048
	// maxDataPacketSize bounds a data packet (the largest data channel message).
	maxDataPacketSize = room.MaxDataPacketSize
	// maxDataBlobSize bounds a stored data blob ("must not exceed 50 KB").
	maxDataBlobSize = 50 << 10
	// maxJoinRequestSize bounds a decoded (decompressed) join_request: a publisher
	// offer at its limit, 64 add_track requests, metadata and attributes at theirs.
	maxJoinRequestSize = 1 << 20
)

// fieldLimit bounds one field. A field of a type that needs no bound of some kind
// leaves it 0.
type fieldLimit struct {
	// items bounds the elements of a repeated field or the entries of a map field.
	items int
	// bytes bounds a string or bytes value: the field's, each element's, or each map
	// value's.
	bytes int
	// keyBytes bounds each key of a map field.
	keyBytes int
}

// Bounds checks decoded client messages against per-field limits and per-message
// encoded-size budgets.
type Bounds struct {
	limits config.LimitConfig
	fields map[protoreflect.FullName]fieldLimit
	// requests is the budget of a SignalRequest by the name of its oneof variant; ""
	// is the budget of a request of no known variant.
	requests    map[protoreflect.Name]int
	joinRequest int
	dataPacket  int
}

// NewBounds returns the bounds for a server with these limits (metadata, attribute,
// name and identity sizes).
func NewBounds(l config.LimitConfig) *Bounds {
	// update_metadata carries at most a name, metadata and attributes at their limits;
	// each map entry costs a few bytes of framing.
	metadataBudget := l.MaxMetadataSize + l.MaxParticipantNameLength + l.MaxAttributesSize + 8*maxAttributeEntries + 64
	sdpBudget := rtc.MaxSDPSize + 96<<10 // the SDP, type, id and a mid_to_track_id map at its limit
	return &Bounds{
		limits: l,
		fields: fieldLimits(l),
		requests: map[protoreflect.Name]int{
			"offer":  sdpBudget,
			"answer": sdpBudget,
			// One candidate and its target.
			"trickle": 4 << 10,
			// A realistic add_track is 100-500 bytes (3 layers, 2 codecs); every field at
			// its limit is about 3.5 KiB.
			"add_track":               4 << 10,
			"mute":                    256,
			"subscription":            128 << 10,
			"track_setting":           128 << 10,
			"leave":                   4 << 10,
			"update_layers":           1 << 10,
			"subscription_permission": 128 << 10,
			// A resume's full state: its last offer and answer, subscriptions and
			// publications; bounded by the frame size.
			"sync_state":                   maxFrameSize,
			"simulate":                     256,
			"ping":                         32,
			"update_metadata":              metadataBudget,
			"ping_req":                     64,
			"update_audio_track":           256,
			"update_video_track":           256,
			"publish_data_track_request":   1 << 10,
			"unpublish_data_track_request": 64,
			"update_data_subscription":     128 << 10,
			"store_data_blob_request":      maxDataBlobSize + 1<<10,
			"get_data_blob_request":        1 << 10,
			// A variant this server does not know (a newer protocol): dropped anyway.
			"": 64 << 10,
		},
		joinRequest: maxJoinRequestSize,
		dataPacket:  maxDataPacketSize,
	}
}

// fieldLimits is the table of every bounded field, by full name.
func fieldLimits(l config.LimitConfig) map[protoreflect.FullName]fieldLimit {
	identity := l.MaxParticipantIdentityLength
	attrs := fieldLimit{items: maxAttributeEntries, bytes: l.MaxAttributesSize, keyBytes: l.MaxAttributesSize}
	sid := fieldLimit{bytes: maxSIDLength}
	sids := fieldLimit{items: maxTrackList, bytes: maxSIDLength}
	id := fieldLimit{bytes: maxIDLength}
	label := fieldLimit{bytes: maxLabelLength}
	trackField := fieldLimit{bytes: room.MaxTrackField}
	codec := fieldLimit{bytes: maxCodecLength}
	layers := fieldLimit{items: room.MaxVideoLayers}
	enums := fieldLimit{items: maxEnumList}
	payload := fieldLimit{bytes: maxDataPacketSize}
	clientInfo := fieldLimit{bytes: maxClientInfoField}
	identities := fieldLimit{items: maxTrackList, bytes: identity}
	return map[protoreflect.FullName]fieldLimit{
		// Session descriptions and ICE.
		"livekit.SessionDescription.type":            {bytes: 16},
		"livekit.SessionDescription.sdp":             {bytes: rtc.MaxSDPSize},
		"livekit.SessionDescription.mid_to_track_id": {items: rtc.MaxMediaSections, keyBytes: rtc.MaxSDPToken, bytes: rtc.MaxSDPToken},
		"livekit.TrickleRequest.candidateInit":       {bytes: maxCandidateLength},

		// Publishing tracks.
		"livekit.AddTrackRequest.cid":                     trackField,
		"livekit.AddTrackRequest.name":                    trackField,
		"livekit.AddTrackRequest.layers":                  layers,
		"livekit.VideoLayer.rid":                          {bytes: room.MaxRIDLength},
		"livekit.AddTrackRequest.simulcast_codecs":        {items: room.MaxSimulcastCodecs},
		"livekit.SimulcastCodec.codec":                    codec,
		"livekit.SimulcastCodec.cid":                      trackField,
		"livekit.SimulcastCodec.layers":                   layers,
		"livekit.AddTrackRequest.sid":                     sid,
		"livekit.AddTrackRequest.stream":                  trackField,
		"livekit.AddTrackRequest.audio_features":          {items: room.MaxAudioFeatures},
		"livekit.AddTrackRequest.packet_trailer_features": {items: room.MaxPacketTrailerFeatures},
		"livekit.MuteTrackRequest.sid":                    sid,
		"livekit.UpdateVideoLayers.track_sid":             sid,
		"livekit.UpdateVideoLayers.layers":                layers,
		"livekit.UpdateLocalAudioTrack.track_sid":         sid,
		"livekit.UpdateLocalAudioTrack.features":          {items: room.MaxAudioFeatures},
		"livekit.UpdateLocalVideoTrack.track_sid":         sid,

		// Subscribing.
		"livekit.UpdateSubscription.track_sids":            sids,
		"livekit.UpdateSubscription.participant_tracks":    {items: maxTrackList},
		"livekit.ParticipantTracks.participant_sid":        sid,
		"livekit.ParticipantTracks.track_sids":             {items: room.MaxTracksPerParticipant, bytes: maxSIDLength},
		"livekit.UpdateTrackSettings.track_sids":           sids,
		"livekit.SubscriptionPermission.track_permissions": {items: maxTrackList},
		"livekit.TrackPermission.participant_sid":          sid,
		"livekit.TrackPermission.track_sids":               {items: room.MaxTracksPerParticipant, bytes: maxSIDLength},
		"livekit.TrackPermission.participant_identity":     {bytes: identity},

		// Leaving (a client never sends regions, but the type allows them).
		"livekit.RegionSettings.regions": {items: 16},
		"livekit.RegionInfo.region":      label,
		"livekit.RegionInfo.url":         {bytes: 2048},

		// A resume's sync state.
		"livekit.SyncState.publish_tracks":              {items: room.MaxTracksPerParticipant},
		"livekit.TrackPublishedResponse.cid":            trackField,
		"livekit.TrackInfo.sid":                         sid,
		"livekit.TrackInfo.name":                        trackField,
		"livekit.TrackInfo.layers":                      layers,
		"livekit.TrackInfo.mime_type":                   codec,
		"livekit.TrackInfo.mid":                         {bytes: rtc.MaxSDPToken},
		"livekit.TrackInfo.codecs":                      {items: room.MaxSimulcastCodecs},
		"livekit.SimulcastCodecInfo.mime_type":          codec,
		"livekit.SimulcastCodecInfo.mid":                {bytes: rtc.MaxSDPToken},
		"livekit.SimulcastCodecInfo.cid":                trackField,
		"livekit.SimulcastCodecInfo.layers":             layers,
		"livekit.SimulcastCodecInfo.sdp_cid":            trackField,
		"livekit.TrackInfo.stream":                      trackField,
		"livekit.TrackInfo.audio_features":              {items: room.MaxAudioFeatures},
		"livekit.TrackInfo.packet_trailer_features":     {items: room.MaxPacketTrailerFeatures},
		"livekit.SyncState.data_channels":               {items: 16},
		"livekit.DataChannelInfo.label":                 label,
		"livekit.SyncState.track_sids_disabled":         sids,
		"livekit.SyncState.datachannel_receive_states":  {items: maxTrackList},
		"livekit.DataChannelReceiveState.publisher_sid": sid,
		"livekit.SyncState.publish_data_tracks":         {items: room.MaxTracksPerParticipant},

		// Data tracks and data blobs.
		"livekit.DataTrackInfo.sid":                       sid,
		"livekit.DataTrackInfo.name":                      label,
		"livekit.DataTrackFrameEncoding.custom":           label,
		"livekit.DataTrackSchemaId.name":                  label,
		"livekit.DataTrackSchemaEncoding.custom":          label,
		"livekit.UpdateDataSubscription.updates":          {items: maxTrackList},
		"livekit.UpdateDataSubscription.Update.track_sid": sid,
		"livekit.PublishDataTrackRequest.name":            label,
		"livekit.DataBlobKey.generic":                     label,
		"livekit.DataBlob.contents":                       {bytes: maxDataBlobSize},
		"livekit.GetDataBlobRequest.participant_identity": {bytes: identity},

		// The participant's own fields (sized by the configured limits).
		"livekit.UpdateParticipantMetadata.metadata":   {bytes: l.MaxMetadataSize},
		"livekit.UpdateParticipantMetadata.name":       {bytes: l.MaxParticipantNameLength},
		"livekit.UpdateParticipantMetadata.attributes": attrs,

		// Joining.
		"livekit.WrappedJoinRequest.join_request":    {bytes: maxJoinRequestSize},
		"livekit.ClientInfo.version":                 clientInfo,
		"livekit.ClientInfo.os":                      clientInfo,
		"livekit.ClientInfo.os_version":              clientInfo,
		"livekit.ClientInfo.device_model":            clientInfo,
		"livekit.ClientInfo.browser":                 clientInfo,
		"livekit.ClientInfo.browser_version":         clientInfo,
		"livekit.ClientInfo.address":                 clientInfo,
		"livekit.ClientInfo.network":                 clientInfo,
		"livekit.ClientInfo.other_sdks":              clientInfo,
		"livekit.ClientInfo.capabilities":            enums,
		"livekit.JoinRequest.metadata":               {bytes: l.MaxMetadataSize},
		"livekit.JoinRequest.participant_attributes": attrs,
		"livekit.JoinRequest.add_track_requests":     {items: room.MaxTracksPerParticipant},
		"livekit.JoinRequest.participant_sid":        sid,

		// Data packets (each within the packet's 64 KiB).
		"livekit.DataPacket.participant_identity":                {bytes: identity},
		"livekit.DataPacket.participant_sid":                     sid,
		"livekit.DataPacket.destination_identities":              identities,
		"livekit.UserPacket.participant_sid":                     sid,
		"livekit.UserPacket.participant_identity":                {bytes: identity},
		"livekit.UserPacket.payload":                             payload,
		"livekit.UserPacket.destination_sids":                    sids,
		"livekit.UserPacket.destination_identities":              identities,
		"livekit.UserPacket.topic":                               label,
		"livekit.UserPacket.id":                                  id,
		"livekit.UserPacket.nonce":                               {bytes: 64},
		"livekit.ActiveSpeakerUpdate.speakers":                   {items: maxTrackList},
		"livekit.SpeakerInfo.sid":                                sid,
		"livekit.SipDTMF.digit":                                  {bytes: 16},
		"livekit.Transcription.transcribed_participant_identity": {bytes: identity},
		"livekit.Transcription.track_id":                         sid,
		"livekit.Transcription.segments":                         {items: maxTrackList},
		"livekit.TranscriptionSegment.id":                        id,
		"livekit.TranscriptionSegment.text":                      payload,
		"livekit.TranscriptionSegment.language":                  {bytes: 64},
		"livekit.MetricsBatch.str_data":                          {items: maxTrackList, bytes: maxLabelLength},
		"livekit.MetricsBatch.time_series":                       {items: maxTrackList},
		"livekit.TimeSeriesMetric.samples":                       {items: 4096},
		"livekit.MetricsBatch.events":                            {items: maxTrackList},
		"livekit.EventMetric.metadata":                           payload,
		"livekit.ChatMessage.id":                                 id,
		"livekit.ChatMessage.message":                            payload,
		"livekit.RpcRequest.id":                                  id,
		"livekit.RpcRequest.method":                              label,
		"livekit.RpcRequest.payload":                             payload,
		"livekit.RpcRequest.compressed_payload":                  payload,
		"livekit.RpcAck.request_id":                              id,
		"livekit.RpcResponse.request_id":                         id,
		"livekit.RpcResponse.payload":                            payload,
		"livekit.RpcResponse.compressed_payload":                 payload,
		"livekit.RpcError.message":                               {bytes: 1024},
		"livekit.RpcError.data":                                  payload,
		"livekit.DataStream.Header.stream_id":                    id,
		"livekit.DataStream.Header.topic":                        label,
		"livekit.DataStream.Header.mime_type":                    {bytes: maxIDLength},
		"livekit.DataStream.Header.attributes":                   {items: maxAttributeEntries, keyBytes: maxLabelLength, bytes: maxDataPacketSize},
		"livekit.DataStream.Header.inline_content":               payload,
		"livekit.DataStream.TextHeader.reply_to_stream_id":       id,
		"livekit.DataStream.TextHeader.attached_stream_ids":      {items: 64, bytes: maxIDLength},
		"livekit.DataStream.ByteHeader.name":                     {bytes: 1024},
		"livekit.DataStream.Chunk.stream_id":                     id,
		"livekit.DataStream.Chunk.content":                       payload,
		"livekit.DataStream.Chunk.iv":                            {bytes: 64},
		"livekit.DataStream.Trailer.stream_id":                   id,
		"livekit.DataStream.Trailer.reason":                      {bytes: 1024},
		"livekit.DataStream.Trailer.attributes":                  {items: maxAttributeEntries, keyBytes: maxLabelLength, bytes: maxDataPacketSize},
		"livekit.EncryptedPacket.iv":                             {bytes: 64},
		"livekit.EncryptedPacket.encrypted_value":                payload,
	}
}

// defaultLimit applies to a field missing from the table (a protocol upgrade added
// it; TestBoundsCoverEveryField fails until someone decides its limit).
var defaultLimit = fieldLimit{items: 16, bytes: 256, keyBytes: 256}

// requestVariant returns the oneof field set in req, or nil.
func requestVariant(req *livekit.SignalRequest) protoreflect.FieldDescriptor {
	m := req.ProtoReflect()
	return m.WhichOneof(m.Descriptor().Oneofs().ByName("message"))
}

// CheckSignalRequest refuses a request over its variant's budget or with a field over
// its limit. The error wraps ErrLimitExceeded and names the field and the limit.
func (b *Bounds) CheckSignalRequest(req *livekit.SignalRequest) error {
	name := protoreflect.Name("")
	if fd := requestVariant(req); fd != nil {
		name = fd.Name()
	}
	budget, ok := b.requests[name]
	if !ok {
		budget = b.requests[""]
	}
	what := string(name)
	if what == "" {
		what = "signal request"
	}
	if err := b.checkMessage(req.ProtoReflect(), ""); err != nil {
		return err
	}
	return checkBudget(what, req, budget)
}

// CheckJoinRequest refuses a join_request over its budget or with a field over its
// limit.
func (b *Bounds) CheckJoinRequest(jr *livekit.JoinRequest) error {
	if err := b.checkMessage(jr.ProtoReflect(), "join_request"); err != nil {
		return err
	}
	return checkBudget("join_request", jr, b.joinRequest)
}

// CheckWrappedJoinRequest refuses a WrappedJoinRequest whose payload is over its limit.
func (b *Bounds) CheckWrappedJoinRequest(w *livekit.WrappedJoinRequest) error {
	return b.checkMessage(w.ProtoReflect(), "join_request")
}

// CheckDataPacket refuses a data packet over its budget or with a field over its
// limit.
func (b *Bounds) CheckDataPacket(pkt *livekit.DataPacket) error {
	if err := b.checkMessage(pkt.ProtoReflect(), "data_packet"); err != nil {
		return err
	}
	return checkBudget("data_packet", pkt, b.dataPacket)
}

func checkBudget(what string, m proto.Message, budget int) error {
	if n := proto.Size(m); n > budget {
		return fmt.Errorf("%w: %s is %d bytes encoded; the limit is %d", ErrLimitExceeded, what, n, budget)
	}
	return nil
}

// limitOf returns the limit of fd.
func (b *Bounds) limitOf(fd protoreflect.FieldDescriptor) fieldLimit {
	if l, ok := b.fields[fd.FullName()]; ok {
		return l
	}
	return defaultLimit
}

func joinPath(path string, name protoreflect.Name) string {
	if path == "" {
		return string(name)
	}
	return path + "." + string(name)
}

// checkMessage checks every populated field of m, recursively, in declaration order
// (Range's order is unspecified and changes with the binary, and the first field over
// its limit is the one the error names). path names m in errors.
func (b *Bounds) checkMessage(m protoreflect.Message, path string) error {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		if err := b.checkField(fd, m.Get(fd), path); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bounds) checkField(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) error {
	lim := b.limitOf(fd)
	switch {
	case fd.IsMap():
		mp := v.Map()
		if mp.Len() > lim.items {
			return fmt.Errorf("%w: %s has %d entries; the limit is %d", ErrLimitExceeded, joinPath(path, fd.Name()), mp.Len(), lim.items)
		}
		var err error
		mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			if n := len(k.String()); fd.MapKey().Kind() == protoreflect.StringKind && n > lim.keyBytes {
				err = fmt.Errorf("%w: a key of %s is %d bytes; the limit is %d", ErrLimitExceeded, joinPath(path, fd.Name()), n, lim.keyBytes)
				return false
			}
			if n := valueSize(fd.MapValue(), mv); n > lim.bytes {
				err = fmt.Errorf("%w: a value of %s is %d bytes; the limit is %d", ErrLimitExceeded, joinPath(path, fd.Name()), n, lim.bytes)
				return false
			}
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				err = b.checkMessage(mv.Message(), joinPath(path, fd.Name()))
			}
			return err == nil
		})
		return err
	case fd.IsList():
		l := v.List()
		if l.Len() > lim.items {
			return fmt.Errorf("%w: %s has %d elements; the limit is %d", ErrLimitExceeded, joinPath(path, fd.Name()), l.Len(), lim.items)
		}
		for i := range l.Len() {
			ev := l.Get(i)
			if n := valueSize(fd, ev); n > lim.bytes {
				return fmt.Errorf("%w: %s[%d] is %d bytes; the limit is %d", ErrLimitExceeded, joinPath(path, fd.Name()), i, n, lim.bytes)
			}
			if isMessage(fd) {
				if err := b.checkMessage(ev.Message(), fmt.Sprintf("%s[%d]", joinPath(path, fd.Name()), i)); err != nil {
					return err
				}
			}
		}
		return nil
	case isMessage(fd):
		return b.checkMessage(v.Message(), joinPath(path, fd.Name()))
	default:
		if n := valueSize(fd, v); n > lim.bytes {
			return fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrLimitExceeded, joinPath(path, fd.Name()), n, lim.bytes)
		}
		return nil
	}
}

func isMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
}

// valueSize is the length of a string or bytes value, and -1 for other kinds.
func valueSize(fd protoreflect.FieldDescriptor, v protoreflect.Value) int {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return len(v.String())
	case protoreflect.BytesKind:
		return len(v.Bytes())
	}
	return -1
}
