package signal

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/config"
)

var testBounds = NewBounds(config.Default().Limit)

func b64(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }

// Every malformed, repeated or over-long join parameter is refused with a reason that
// names it and repeats at most a bounded slice of the value.
func TestMalformedQueryParamsAreRefused(t *testing.T) {
	long := strings.Repeat("x", 70000)
	cases := []struct{ query, want string }{
		{"attributes=" + b64("null"), "attributes"},
		{"attributes=" + b64(`["a"]`), "attributes"},
		{"attributes=" + b64(`{"a":1}`), "attributes"},
		{"attributes=" + b64(`{"a":{"b":"c"}}`), "attributes"},
		{"attributes=" + b64(`"str"`), "attributes"},
		{"attributes=" + b64(`{"a":"b"} trailing`), "attributes"},
		{"attributes=" + b64(`{"":"b"}`), "attribute key"},
		{"attributes=%25%25%25", "attributes"},
		{"attributes=" + b64(`{"a":"b"}`) + "&attributes=" + b64(`{"c":"d"}`), "attributes parameter is given 2 times"},
		{"attributes=" + b64(`{"a":"`+long+`"}`), "attributes"},
		{"metadata=" + long, "metadata parameter is 70000 bytes; the limit is 64000"},
		{"metadata=a&metadata=b", "metadata parameter is given 2 times"},
		{"metadata=%ff", "UTF-8"},
		{"sid=" + strings.Repeat("a", 65), "sid"},
		{"sid=PA_%00", "sid"},
		{"sid=a&sid=b", "sid parameter is given 2 times"},
		{"protocol=17&protocol=16", "protocol parameter is given 2 times"},
		{"protocol=-1", "protocol"},
		{"protocol=" + long, "protocol"},
		{"reconnect_reason=x", "reconnect_reason"},
		{"adaptive_stream=maybe", "adaptive_stream"},
		{"version=" + strings.Repeat("1", 300), "version is 300 bytes; the limit is 256"},
		{"os=%0a", "os contains a control character"},
		{"browser=%ff", "browser is not valid UTF-8"},
		{"sdk=" + strings.Repeat("j", 300), "sdk"},
		{"join_request=a&join_request=b", "join_request parameter is given 2 times"},
		{"auto_subscribe=" + long, "auto_subscribe"},
	}
	for _, tc := range cases {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatalf("%.40s: %v", tc.query, err)
		}
		_, err = parseJoinParams(q, testBounds)
		if !errors.Is(err, errBadParams) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: %v, want a refusal mentioning %q", tc.query, err, tc.want)
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("%.60s: the error is %d bytes long", tc.query, len(err.Error()))
		}
	}
	// Well-formed values are accepted: attributes in either base64 alphabet, with or
	// without padding, an empty attributes parameter, an unknown SDK name.
	for _, good := range []string{
		"attributes=" + b64(`{"a":"b","c":""}`),
		"attributes=" + url.QueryEscape(base64.RawStdEncoding.EncodeToString([]byte(`{"a?":"b>"}`))),
		"attributes=",
		"sdk=brand-new-sdk&version=2.15.3&os=macOS&browser=Chrome&browser_version=131.0",
		"metadata=" + url.QueryEscape(`{"role":"viewer"}`) + "&sid=PA_abcDEF123",
	} {
		q, _ := url.ParseQuery(good)
		if _, err := parseJoinParams(q, testBounds); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
}

func TestParseQueryParams(t *testing.T) {
	attrs := base64.URLEncoding.EncodeToString([]byte(`{"seat":"12"}`))
	q, _ := url.ParseQuery("protocol=17&auto_subscribe=0&reconnect=1&sid=PA_x&sdk=go&attributes=" + attrs)
	jp, err := parseJoinParams(q, testBounds)
	if err != nil {
		t.Fatal(err)
	}
	if jp.protocol != 17 || jp.autoSubscribe || !jp.reconnect || jp.sid != "PA_x" || jp.singlePC ||
		jp.clientInfo.Sdk != livekit.ClientInfo_GO || jp.attributes["seat"] != "12" {
		t.Errorf("params %+v", jp)
	}
	q, _ = url.ParseQuery("")
	if jp, _ := parseJoinParams(q, testBounds); !jp.autoSubscribe {
		t.Errorf("auto_subscribe defaults to true")
	}
	for _, bad := range []string{"protocol=x", "auto_subscribe=maybe", "reconnect=2", "attributes=!!!", "join_request=!!!"} {
		q, _ := url.ParseQuery(bad)
		if _, err := parseJoinParams(q, testBounds); !errors.Is(err, errBadParams) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func wrap(t *testing.T, jr *livekit.JoinRequest, gz bool) string {
	t.Helper()
	body, _ := proto.Marshal(jr)
	w := &livekit.WrappedJoinRequest{JoinRequest: body}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		w.Compression = livekit.WrappedJoinRequest_GZIP
		w.JoinRequest = buf.Bytes()
	}
	data, _ := proto.Marshal(w)
	return base64.URLEncoding.EncodeToString(data)
}

func TestParseJoinRequest(t *testing.T) {
	jr := &livekit.JoinRequest{
		ClientInfo:         &livekit.ClientInfo{Protocol: 17, Sdk: livekit.ClientInfo_JS},
		ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: true},
		Metadata:           "m",
		PublisherOffer:     &livekit.SessionDescription{Type: "offer", Sdp: "v=0"},
		AddTrackRequests:   []*livekit.AddTrackRequest{{Cid: "c1"}},
	}
	for _, gz := range []bool{false, true} {
		q := url.Values{"join_request": {wrap(t, jr, gz)}}
		jp, err := parseJoinParams(q, testBounds)
		if err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		if !jp.singlePC || jp.protocol != 17 || !jp.autoSubscribe || jp.metadata != "m" || jp.publisherOffer.GetSdp() != "v=0" || len(jp.addTracks) != 1 {
			t.Errorf("gzip=%v: %+v", gz, jp)
		}
	}
	// A decompression bomb is refused.
	huge := &livekit.JoinRequest{Metadata: strings.Repeat("x", maxJoinRequestSize+10)}
	if _, err := parseJoinParams(url.Values{"join_request": {wrap(t, huge, true)}}, testBounds); err == nil || !strings.Contains(err.Error(), "decompressed") {
		t.Errorf("oversized join_request: %v", err)
	}
	bad := &livekit.JoinRequest{PublisherOffer: &livekit.SessionDescription{Type: "answer"}}
	if _, err := parseJoinParams(url.Values{"join_request": {wrap(t, bad, false)}}, testBounds); err == nil {
		t.Errorf("an answer as publisher offer was accepted")
	}
}
