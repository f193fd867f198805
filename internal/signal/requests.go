package signal

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
	"github.com/usher-rtc/usher/internal/rtc/sfu"
)

// dispatch handles a request that is within its bounds, and refuses one that is not.
func (s *Session) dispatch(req *livekit.SignalRequest) {
	if err := s.h.bounds.CheckSignalRequest(req); err != nil {
		s.refuse(req, err)
		return
	}
	s.handle(req)
}

// refuse answers a request over its bounds with RequestResponse{LIMIT_EXCEEDED} when
// its type has a RequestResponse counterpart; other requests are dropped. The answer
// names the field and the limit, and echoes only the request's identifying fields,
// cut to their limits.
func (s *Session) refuse(req *livekit.SignalRequest, err error) {
	rr := limitExceeded(req, err)
	if rr == nil {
		s.log.Debug("signal request over its bounds dropped", "type", typeName(req), "error", err)
		return
	}
	s.log.Debug("signal request over its bounds refused", "type", typeName(req), "error", err)
	s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: rr}})
}

// maxRefusalMessage bounds the message of a RequestResponse refusing a request.
const maxRefusalMessage = 512

// limitExceeded builds the RequestResponse refusing req for being over its bounds, or
// returns nil when req's type has no RequestResponse counterpart.
func limitExceeded(req *livekit.SignalRequest, err error) *livekit.RequestResponse {
	return refusal(req, livekit.RequestResponse_LIMIT_EXCEEDED, err)
}

// refusal builds a RequestResponse refusing req with reason and err's text (cut to
// maxRefusalMessage). It echoes only the request's identifying fields, cut to their
// limits, never what the client sent in bulk. It returns nil when req's type has no
// RequestResponse counterpart.
func refusal(req *livekit.SignalRequest, reason livekit.RequestResponse_Reason, err error) *livekit.RequestResponse {
	rr := &livekit.RequestResponse{Reason: reason, Message: cut(err.Error(), maxRefusalMessage)}
	switch m := req.Message.(type) {
	case *livekit.SignalRequest_Trickle:
		rr.Request = &livekit.RequestResponse_Trickle{Trickle: &livekit.TrickleRequest{
			Target: m.Trickle.GetTarget(), Final: m.Trickle.GetFinal(),
		}}
	case *livekit.SignalRequest_AddTrack:
		rr.Request = &livekit.RequestResponse_AddTrack{AddTrack: &livekit.AddTrackRequest{
			Cid:    cut(m.AddTrack.GetCid(), room.MaxTrackField),
			Type:   m.AddTrack.GetType(),
			Source: m.AddTrack.GetSource(),
		}}
	case *livekit.SignalRequest_Mute:
		rr.Request = &livekit.RequestResponse_Mute{Mute: &livekit.MuteTrackRequest{
			Sid: cut(m.Mute.GetSid(), maxSIDLength), Muted: m.Mute.GetMuted(),
		}}
	case *livekit.SignalRequest_UpdateMetadata:
		rr.RequestId = m.UpdateMetadata.GetRequestId()
		rr.Request = &livekit.RequestResponse_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{
			RequestId: m.UpdateMetadata.GetRequestId(),
		}}
	case *livekit.SignalRequest_UpdateAudioTrack:
		rr.Request = &livekit.RequestResponse_UpdateAudioTrack{UpdateAudioTrack: &livekit.UpdateLocalAudioTrack{
			TrackSid: cut(m.UpdateAudioTrack.GetTrackSid(), maxSIDLength),
		}}
	case *livekit.SignalRequest_UpdateVideoTrack:
		rr.Request = &livekit.RequestResponse_UpdateVideoTrack{UpdateVideoTrack: &livekit.UpdateLocalVideoTrack{
			TrackSid: cut(m.UpdateVideoTrack.GetTrackSid(), maxSIDLength),
		}}
	case *livekit.SignalRequest_PublishDataTrackRequest:
		rr.Request = &livekit.RequestResponse_PublishDataTrack{PublishDataTrack: &livekit.PublishDataTrackRequest{
			PubHandle: m.PublishDataTrackRequest.GetPubHandle(),
			Name:      cut(m.PublishDataTrackRequest.GetName(), maxLabelLength),
		}}
	case *livekit.SignalRequest_UnpublishDataTrackRequest:
		rr.Request = &livekit.RequestResponse_UnpublishDataTrack{UnpublishDataTrack: &livekit.UnpublishDataTrackRequest{
			PubHandle: m.UnpublishDataTrackRequest.GetPubHandle(),
		}}
	default:
		return nil
	}
	return rr
}

// cut returns at most n bytes of s, never splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// handle acts on one request from the client, within its bounds.
func (s *Session) handle(req *livekit.SignalRequest) {
	switch m := req.Message.(type) {
	case *livekit.SignalRequest_Offer:
		s.handleOffer(m.Offer)
	case *livekit.SignalRequest_Answer:
		if s.sub == nil {
			s.log.Debug("answer in single peer connection mode ignored")
			return
		}
		if err := rtc.CheckSDPBounds(m.Answer.GetSdp()); err != nil {
			s.log.Debug("subscriber answer rejected", "error", err)
			return
		}
		if err := s.sub.HandleAnswer(m.Answer.GetSdp()); err != nil {
			s.log.Debug("subscriber answer rejected", "error", err)
		}
	case *livekit.SignalRequest_Trickle:
		t := s.pub
		if m.Trickle.GetTarget() == livekit.SignalTarget_SUBSCRIBER && s.sub != nil {
			t = s.sub
		}
		if err := t.AddICECandidate(m.Trickle.GetCandidateInit()); err != nil {
			s.log.Debug("ICE candidate rejected", "error", err)
		}
	case *livekit.SignalRequest_AddTrack:
		s.handleAddTrack(m.AddTrack)
	case *livekit.SignalRequest_Mute:
		if err := s.p.SetTrackMuted(m.Mute.GetSid(), m.Mute.GetMuted()); err != nil {
			s.log.Debug("mute ignored", "error", err)
			if errors.Is(err, room.ErrHardMuted) {
				rr := refusal(req, livekit.RequestResponse_NOT_ALLOWED, err)
				s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: rr}})
			}
		}
	case *livekit.SignalRequest_Leave:
		reason := m.Leave.GetReason()
		if reason == livekit.DisconnectReason_UNKNOWN_REASON {
			reason = livekit.DisconnectReason_CLIENT_INITIATED
		}
		s.leaveRoom(reason, false)
	case *livekit.SignalRequest_Ping:
		s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_Pong{Pong: time.Now().UnixMilli()}})
	case *livekit.SignalRequest_PingReq:
		s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_PongResp{PongResp: &livekit.Pong{
			LastPingTimestamp: m.PingReq.GetTimestamp(),
			Timestamp:         time.Now().UnixMilli(),
		}}})
	case *livekit.SignalRequest_UpdateMetadata:
		s.handleUpdateMetadata(m.UpdateMetadata)
	case *livekit.SignalRequest_Subscription:
		sids := append([]string(nil), m.Subscription.GetTrackSids()...)
		for _, pt := range m.Subscription.GetParticipantTracks() {
			sids = append(sids, pt.GetTrackSids()...)
		}
		if err := s.p.SetSubscriptions(sids, m.Subscription.GetSubscribe()); err != nil {
			s.log.Debug("subscription ignored", "error", err)
		}
	case *livekit.SignalRequest_TrackSetting:
		s.media.push(mediaOp{settings: m.TrackSetting})
	case *livekit.SignalRequest_SubscriptionPermission:
		if err := s.p.SetSubscriptionPermission(m.SubscriptionPermission); err != nil {
			s.log.Debug("subscription_permission ignored", "error", err)
		}
	case *livekit.SignalRequest_Simulate:
		s.simulate(m.Simulate)
	case
		*livekit.SignalRequest_SyncState,
		*livekit.SignalRequest_UpdateLayers,
		*livekit.SignalRequest_UpdateAudioTrack,
		*livekit.SignalRequest_UpdateVideoTrack:
		// Accepted; they matter once media is forwarded.
	default:
		s.log.Debug("unsupported signal request", "type", typeName(req))
	}
}

func typeName(req *livekit.SignalRequest) string {
	if req.Message == nil {
		return "empty"
	}
	return string(proto.MessageName(req).Name())
}

// handleOffer answers a publisher offer and reconciles the published tracks with what
// the offer sends.
func (s *Session) handleOffer(offer *livekit.SessionDescription) {
	if offer.GetType() != "" && offer.GetType() != "offer" {
		s.log.Debug("publisher description is not an offer", "type", offer.GetType())
		return
	}
	sending, err := rtc.SendingTracks(offer.GetSdp())
	if err != nil {
		s.log.Debug("publisher offer rejected", "error", err)
		return
	}
	err = s.pub.HandleOffer(offer.GetSdp(), func(sdp string) {
		s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_Answer{Answer: &livekit.SessionDescription{
			Type: "answer", Sdp: sdp, Id: offer.GetId(),
		}}})
	})
	if err != nil {
		s.log.Debug("publisher offer rejected", "error", err)
		return
	}
	tracks := make([]room.SendingTrack, len(sending))
	for i, t := range sending {
		tracks[i] = room.SendingTrack{CID: t.TrackID, Mid: t.Mid, MimeType: t.MimeType}
	}
	s.p.SyncSending(tracks)
}

// handleAddTrack answers a track announcement with its server-made SID, or with a
// RequestResponse saying why it was refused.
func (s *Session) handleAddTrack(req *livekit.AddTrackRequest) {
	var ti *livekit.TrackInfo
	var err error
	if req.GetSid() != "" && req.GetCid() != "" {
		// A backup codec of a track already published (the SDKs leave type and
		// source unset in this request).
		ti, err = s.p.AddBackupCodec(req.GetCid(), req.GetSid())
	} else {
		ti, err = s.p.AddTrack(req)
	}
	if err != nil {
		s.log.Debug("add_track refused", "cid", req.GetCid(), "error", err)
		reason := livekit.RequestResponse_INVALID_REQUEST
		if errors.Is(err, room.ErrPermissionDenied) {
			reason = livekit.RequestResponse_NOT_ALLOWED
		}
		rr := refusal(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: req}}, reason, err)
		s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: rr}})
		return
	}
	s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackPublished{TrackPublished: &livekit.TrackPublishedResponse{
		Cid: req.GetCid(), Track: ti,
	}}})
}

// transportHandler wires a transport's events to the session.
func (s *Session) transportHandler(role rtc.Role) rtc.Handler {
	target := livekit.SignalTarget_PUBLISHER
	if role == rtc.Subscriber {
		target = livekit.SignalTarget_SUBSCRIBER
	}
	h := rtc.Handler{
		OnICECandidate: func(init string) {
			s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_Trickle{Trickle: &livekit.TrickleRequest{
				CandidateInit: init, Target: target,
			}}})
		},
		OnConnected: func() {
			if s.isPrimary(role) {
				s.p.SetActive()
			}
		},
		OnFailed: func() {
			s.log.Debug("transport failed; the client is expected to restart ICE", "transport", role.String())
		},
		OnData: func(kind livekit.DataPacket_Kind, data []byte) {
			var pkt livekit.DataPacket
			if err := proto.Unmarshal(data, &pkt); err != nil {
				s.log.Debug("malformed data packet dropped", "error", err)
				return
			}
			if err := s.h.bounds.CheckDataPacket(&pkt); err != nil {
				s.h.dataDropped.Add(1)
				s.log.Debug("data packet over its bounds dropped", "error", err)
				return
			}
			if s.handleHostRPC(&pkt) {
				return
			}
			if err := s.p.RouteData(kind, &pkt); err != nil {
				s.log.Debug("data packet dropped", "error", err)
			}
		},
		OnDataOpen: func(livekit.DataPacket_Kind) { s.data.wake() },
		OnMedia: func(r *sfu.Receiver, cid, _ string) {
			s.p.AttachMedia(cid, r)
			if r.Kind() == webrtc.RTPCodecTypeVideo {
				// Dynacast: the publisher hears which layers anyone receives.
				r.SetDemandHandler(func(maxLayer int) { s.p.SetMediaDemand(r, maxLayer) })
			}
		},
		OnMediaEnded: func(r *sfu.Receiver) { s.p.DetachMedia(r) },
		OnMediaLayer: func(cid, rid string, ssrc uint32) { s.p.SetLayerSSRC(cid, rid, ssrc) },
	}
	if role == rtc.Subscriber {
		h.OnOffer = func(sdp string) {
			s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_Offer{Offer: &livekit.SessionDescription{
				Type: "offer", Sdp: sdp,
			}}})
		}
	}
	return h
}

// isPrimary reports whether the transport of role is the one whose connection makes
// the participant ACTIVE.
func (s *Session) isPrimary(role rtc.Role) bool {
	if s.subscriberPrimary {
		return role == rtc.Subscriber
	}
	return role == rtc.Publisher
}

// dataTransport is the transport that carries data to the client.
func (s *Session) dataTransport() *rtc.Transport {
	if s.sub != nil {
		return s.sub
	}
	return s.pub
}

// handleUpdateMetadata applies a client's change to its own name, metadata or
// attributes (it needs can_update_metadata) and answers with a RequestResponse.
func (s *Session) handleUpdateMetadata(req *livekit.UpdateParticipantMetadata) {
	err := s.p.UpdateSelf(room.Update{Name: req.GetName(), Metadata: req.GetMetadata(), Attributes: req.GetAttributes()})
	resp := &livekit.RequestResponse{
		RequestId: req.GetRequestId(),
		Reason:    livekit.RequestResponse_OK,
		Request:   &livekit.RequestResponse_UpdateMetadata{UpdateMetadata: req},
	}
	if err != nil {
		s.log.Debug("update_metadata refused", "error", err)
		reason := livekit.RequestResponse_UNCLASSIFIED_ERROR
		switch {
		case errors.Is(err, room.ErrPermissionDenied):
			reason = livekit.RequestResponse_NOT_ALLOWED
		case errors.Is(err, room.ErrInvalidArgument):
			reason = livekit.RequestResponse_LIMIT_EXCEEDED
		}
		resp = refusal(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: req}}, reason, err)
	}
	s.queue.push(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: resp}})
}

// simulate acts out a failure the client asks for, as LiveKit does for SDK tests: a
// node failure or a migration drops the participant without a word (the client's
// resume is refused, so it rejoins and republishes); a server leave sends the leave.
func (s *Session) simulate(sc *livekit.SimulateScenario) {
	switch sc.GetScenario().(type) {
	case *livekit.SimulateScenario_NodeFailure, *livekit.SimulateScenario_Migration:
		s.mu.Lock()
		s.silent = true
		s.mu.Unlock()
		s.leaveRoom(livekit.DisconnectReason_SERVER_SHUTDOWN, false)
	case *livekit.SimulateScenario_ServerLeave:
		s.leaveRoom(livekit.DisconnectReason_SERVER_SHUTDOWN, false)
	}
}
