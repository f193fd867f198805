package signal

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// maxJoinRequestSize bounds a decompressed join_request.
const maxJoinRequestSize = 256 << 10

// errBadParams wraps every problem with the connection's query parameters.
var errBadParams = errors.New("invalid connection parameters")

// joinParams is what a client asks for when it connects, from the query parameters
// (dual peer connection mode) or the join_request parameter (single peer connection).
type joinParams struct {
	autoSubscribe  bool
	protocol       int32
	clientInfo     *livekit.ClientInfo
	reconnect      bool
	sid            string
	metadata       string
	attributes     map[string]string
	singlePC       bool
	publisherOffer *livekit.SessionDescription
	addTracks      []*livekit.AddTrackRequest
}

func parseBool(v string, def bool) (bool, error) {
	switch strings.ToLower(v) {
	case "":
		return def, nil
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not 0, 1, true or false", v)
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// parseJoinParams reads the connection's parameters.
func parseJoinParams(q url.Values) (*joinParams, error) {
	jp := &joinParams{clientInfo: &livekit.ClientInfo{}}
	if raw := q.Get("join_request"); raw != "" {
		return parseJoinRequest(raw)
	}
	var err error
	if jp.autoSubscribe, err = parseBool(q.Get("auto_subscribe"), true); err != nil {
		return nil, fmt.Errorf("%w: auto_subscribe: %w", errBadParams, err)
	}
	if jp.reconnect, err = parseBool(q.Get("reconnect"), false); err != nil {
		return nil, fmt.Errorf("%w: reconnect: %w", errBadParams, err)
	}
	if v := q.Get("protocol"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: protocol %q is not a version number", errBadParams, v)
		}
		jp.protocol = int32(n)
	}
	jp.sid = q.Get("sid")
	jp.clientInfo = &livekit.ClientInfo{
		Protocol:    jp.protocol,
		Version:     limit(q.Get("version"), 64),
		Os:          limit(q.Get("os"), 64),
		OsVersion:   limit(q.Get("os_version"), 64),
		DeviceModel: limit(q.Get("device_model"), 64),
		Browser:     limit(q.Get("browser"), 64),
	}
	if sdk, ok := livekit.ClientInfo_SDK_value[strings.ToUpper(q.Get("sdk"))]; ok {
		jp.clientInfo.Sdk = livekit.ClientInfo_SDK(sdk)
	}
	if v := q.Get("attributes"); v != "" {
		data, err := decodeBase64(v)
		if err == nil {
			err = json.Unmarshal(data, &jp.attributes)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: attributes must be base64 of a JSON object of strings", errBadParams)
		}
	}
	jp.metadata = q.Get("metadata")
	return jp, nil
}

func limit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// parseJoinRequest decodes the single peer connection form: base64 of a
// WrappedJoinRequest holding a (possibly gzipped) JoinRequest.
func parseJoinRequest(raw string) (*joinParams, error) {
	data, err := decodeBase64(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: join_request is not base64", errBadParams)
	}
	var wrapped livekit.WrappedJoinRequest
	if err := proto.Unmarshal(data, &wrapped); err != nil {
		return nil, fmt.Errorf("%w: join_request is not a WrappedJoinRequest", errBadParams)
	}
	body := wrapped.JoinRequest
	switch wrapped.Compression {
	case livekit.WrappedJoinRequest_NONE:
	case livekit.WrappedJoinRequest_GZIP:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%w: join_request is not valid gzip", errBadParams)
		}
		body, err = io.ReadAll(io.LimitReader(zr, maxJoinRequestSize+1))
		if err != nil {
			return nil, fmt.Errorf("%w: join_request is not valid gzip", errBadParams)
		}
		if len(body) > maxJoinRequestSize {
			return nil, fmt.Errorf("%w: join_request is larger than %d bytes", errBadParams, maxJoinRequestSize)
		}
	default:
		return nil, fmt.Errorf("%w: join_request compression %d is unknown", errBadParams, wrapped.Compression)
	}
	var jr livekit.JoinRequest
	if err := proto.Unmarshal(body, &jr); err != nil {
		return nil, fmt.Errorf("%w: join_request does not hold a JoinRequest", errBadParams)
	}
	jp := &joinParams{
		autoSubscribe:  jr.GetConnectionSettings().GetAutoSubscribe(),
		clientInfo:     jr.GetClientInfo(),
		reconnect:      jr.Reconnect,
		sid:            jr.ParticipantSid,
		metadata:       jr.Metadata,
		attributes:     jr.ParticipantAttributes,
		singlePC:       true,
		publisherOffer: jr.PublisherOffer,
		addTracks:      jr.AddTrackRequests,
	}
	if jp.clientInfo == nil {
		jp.clientInfo = &livekit.ClientInfo{}
	}
	jp.protocol = jp.clientInfo.Protocol
	if jp.publisherOffer != nil && jp.publisherOffer.Type != "offer" {
		return nil, fmt.Errorf("%w: join_request publisher_offer has type %q, not offer", errBadParams, jp.publisherOffer.Type)
	}
	return jp, nil
}
