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
	"unicode/utf8"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/room"
	"github.com/usher-rtc/usher/internal/rtc"
)

// errBadParams wraps every problem with the connection's query parameters.
var errBadParams = errors.New("invalid connection parameters")

// maxQuoted bounds how much of a client's value an error message repeats.
const maxQuoted = 32

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

// quote returns s quoted for an error message, cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := s[:maxQuoted]
	for len(cut) > 0 && !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return strconv.Quote(cut) + "…"
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
	return false, fmt.Errorf("%s is not 0, 1, true or false", quote(v))
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// singleParams are the query parameters a join reads; each may be given once.
var singleParams = []string{
	"join_request", "protocol", "sdk", "version", "os", "os_version", "device_model", "browser",
	"browser_version", "network", "auto_subscribe", "adaptive_stream", "reconnect", "sid",
	"reconnect_reason", "metadata", "attributes",
}

// clientInfoParams are the ClientInfo strings a client describes itself with.
var clientInfoParams = []string{"version", "os", "os_version", "device_model", "browser", "browser_version", "network"}

// validSID reports whether s looks like a participant SID (PA_ and base62): bounded
// and made of letters, digits, '_' and '-'.
func validSID(s string) bool {
	if len(s) > maxSIDLength {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// checkClientText refuses a client-described string that is too long, not UTF-8 or
// holds control characters (it ends up in logs and in protobuf messages).
func checkClientText(what, s string) error {
	if problem := room.TextProblem(s, maxClientInfoField); problem != "" {
		return fmt.Errorf("%w: %s %s", errBadParams, what, problem)
	}
	return nil
}

// parseJoinParams reads the connection's parameters. Every parameter it reads is
// checked: a malformed, repeated or over-long one is an error naming it.
func parseJoinParams(q url.Values, b *Bounds) (*joinParams, error) {
	for _, k := range singleParams {
		if n := len(q[k]); n > 1 {
			return nil, fmt.Errorf("%w: the %s parameter is given %d times", errBadParams, k, n)
		}
	}
	if raw := q.Get("join_request"); raw != "" {
		return parseJoinRequest(raw, b)
	}
	jp := &joinParams{}
	var err error
	if jp.autoSubscribe, err = parseBool(q.Get("auto_subscribe"), true); err != nil {
		return nil, fmt.Errorf("%w: auto_subscribe: %w", errBadParams, err)
	}
	if _, err = parseBool(q.Get("adaptive_stream"), false); err != nil {
		return nil, fmt.Errorf("%w: adaptive_stream: %w", errBadParams, err)
	}
	if jp.reconnect, err = parseBool(q.Get("reconnect"), false); err != nil {
		return nil, fmt.Errorf("%w: reconnect: %w", errBadParams, err)
	}
	if v := q.Get("protocol"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: protocol %s is not a version number", errBadParams, quote(v))
		}
		jp.protocol = int32(n)
	}
	if v := q.Get("reconnect_reason"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 32); err != nil || n < 0 {
			return nil, fmt.Errorf("%w: reconnect_reason %s is not a reason number", errBadParams, quote(v))
		}
	}
	jp.sid = q.Get("sid")
	if !validSID(jp.sid) {
		return nil, fmt.Errorf("%w: sid %s is not a participant SID (at most %d letters, digits, '_' or '-')", errBadParams, quote(jp.sid), maxSIDLength)
	}
	for _, k := range clientInfoParams {
		if err := checkClientText(k, q.Get(k)); err != nil {
			return nil, err
		}
	}
	sdk := q.Get("sdk")
	if len(sdk) > maxLabelLength {
		return nil, fmt.Errorf("%w: sdk is %d bytes; the limit is %d", errBadParams, len(sdk), maxLabelLength)
	}
	jp.clientInfo = &livekit.ClientInfo{
		Protocol:       jp.protocol,
		Version:        q.Get("version"),
		Os:             q.Get("os"),
		OsVersion:      q.Get("os_version"),
		DeviceModel:    q.Get("device_model"),
		Browser:        q.Get("browser"),
		BrowserVersion: q.Get("browser_version"),
		Network:        q.Get("network"),
	}
	// An SDK this server does not know by name is still welcome.
	if v, ok := livekit.ClientInfo_SDK_value[strings.ToUpper(sdk)]; ok {
		jp.clientInfo.Sdk = livekit.ClientInfo_SDK(v)
	}
	if jp.attributes, err = parseAttributes(q.Get("attributes"), b); err != nil {
		return nil, err
	}
	jp.metadata = q.Get("metadata")
	if err := room.ValidateMetadata(b.limits, "the metadata parameter", jp.metadata); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadParams, err)
	}
	return jp, nil
}

// parseAttributes decodes the attributes parameter: base64 (URL or standard alphabet)
// of a JSON object whose values are strings. Empty means none.
func parseAttributes(v string, b *Bounds) (map[string]string, error) {
	if v == "" {
		return nil, nil
	}
	malformed := fmt.Errorf("%w: attributes must be base64 of a JSON object of strings", errBadParams)
	// JSON escapes may take 6 bytes for one; base64 4 for 3.
	if maxLen := (6*b.limits.MaxAttributesSize + 8*maxAttributeEntries + 2) * 4 / 3; len(v) > maxLen {
		return nil, fmt.Errorf("%w: attributes is %d bytes; the limit is %d", errBadParams, len(v), maxLen)
	}
	data, err := decodeBase64(v)
	if err != nil {
		return nil, malformed
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' { // null, arrays, strings and numbers are not objects
		return nil, malformed
	}
	var attrs map[string]string
	if err := json.Unmarshal(data, &attrs); err != nil {
		return nil, malformed
	}
	if len(attrs) > maxAttributeEntries {
		return nil, fmt.Errorf("%w: attributes has %d entries; the limit is %d", errBadParams, len(attrs), maxAttributeEntries)
	}
	if err := room.ValidateAttributes(b.limits, attrs); err != nil {
		return nil, fmt.Errorf("%w: attributes: %w", errBadParams, err)
	}
	return attrs, nil
}

// parseJoinRequest decodes the single peer connection form: base64 of a
// WrappedJoinRequest holding a (possibly gzipped) JoinRequest, within its bounds.
func parseJoinRequest(raw string, b *Bounds) (*joinParams, error) {
	if maxLen := (maxJoinRequestSize + 64) * 4 / 3; len(raw) > maxLen {
		return nil, fmt.Errorf("%w: join_request is %d bytes; the limit is %d", errBadParams, len(raw), maxLen)
	}
	data, err := decodeBase64(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: join_request is not base64", errBadParams)
	}
	var wrapped livekit.WrappedJoinRequest
	if err := proto.Unmarshal(data, &wrapped); err != nil {
		return nil, fmt.Errorf("%w: join_request is not a WrappedJoinRequest", errBadParams)
	}
	if err := b.CheckWrappedJoinRequest(&wrapped); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadParams, err)
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
			return nil, fmt.Errorf("%w: %w: join_request is more than %d bytes decompressed", errBadParams, ErrLimitExceeded, maxJoinRequestSize)
		}
	default:
		return nil, fmt.Errorf("%w: join_request compression %d is unknown", errBadParams, wrapped.Compression)
	}
	var jr livekit.JoinRequest
	if err := proto.Unmarshal(body, &jr); err != nil {
		return nil, fmt.Errorf("%w: join_request does not hold a JoinRequest", errBadParams)
	}
	if err := b.CheckJoinRequest(&jr); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadParams, err)
	}
	if !validSID(jr.ParticipantSid) {
		return nil, fmt.Errorf("%w: join_request participant_sid %s is not a participant SID", errBadParams, quote(jr.ParticipantSid))
	}
	if err := room.ValidateAttributes(b.limits, jr.ParticipantAttributes); err != nil {
		return nil, fmt.Errorf("%w: join_request participant_attributes: %w", errBadParams, err)
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
	if o := jp.publisherOffer; o != nil {
		if o.Type != "offer" {
			return nil, fmt.Errorf("%w: join_request publisher_offer has type %s, not offer", errBadParams, quote(o.Type))
		}
		if err := rtc.CheckSDPBounds(o.Sdp); err != nil {
			return nil, fmt.Errorf("%w: join_request publisher_offer: %w", errBadParams, err)
		}
	}
	return jp, nil
}
