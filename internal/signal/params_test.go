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
)

func TestParseQueryParams(t *testing.T) {
	attrs := base64.URLEncoding.EncodeToString([]byte(`{"seat":"12"}`))
	q, _ := url.ParseQuery("protocol=17&auto_subscribe=0&reconnect=1&sid=PA_x&sdk=go&attributes=" + attrs)
	jp, err := parseJoinParams(q)
	if err != nil {
		t.Fatal(err)
	}
	if jp.protocol != 17 || jp.autoSubscribe || !jp.reconnect || jp.sid != "PA_x" || jp.singlePC ||
		jp.clientInfo.Sdk != livekit.ClientInfo_GO || jp.attributes["seat"] != "12" {
		t.Errorf("params %+v", jp)
	}
	q, _ = url.ParseQuery("")
	if jp, _ := parseJoinParams(q); !jp.autoSubscribe {
		t.Errorf("auto_subscribe defaults to true")
	}
	for _, bad := range []string{"protocol=x", "auto_subscribe=maybe", "reconnect=2", "attributes=!!!", "join_request=!!!"} {
		q, _ := url.ParseQuery(bad)
		if _, err := parseJoinParams(q); !errors.Is(err, errBadParams) {
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
		jp, err := parseJoinParams(q)
		if err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		if !jp.singlePC || jp.protocol != 17 || !jp.autoSubscribe || jp.metadata != "m" || jp.publisherOffer.GetSdp() != "v=0" || len(jp.addTracks) != 1 {
			t.Errorf("gzip=%v: %+v", gz, jp)
		}
	}
	// A decompression bomb is refused.
	huge := &livekit.JoinRequest{Metadata: strings.Repeat("x", maxJoinRequestSize+10)}
	if _, err := parseJoinParams(url.Values{"join_request": {wrap(t, huge, true)}}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized join_request: %v", err)
	}
	bad := &livekit.JoinRequest{PublisherOffer: &livekit.SessionDescription{Type: "answer"}}
	if _, err := parseJoinParams(url.Values{"join_request": {wrap(t, bad, false)}}); err == nil {
		t.Errorf("an answer as publisher offer was accepted")
	}
}
