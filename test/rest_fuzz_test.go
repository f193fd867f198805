package test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/usher-rtc/usher/internal/auth"
	"github.com/usher-rtc/usher/internal/testutil"
)

// FuzzRESTTenantIsolation sends arbitrary gateway requests as tenant B to a real server
// (started once per fuzz process) where tenant A owns a room with a real participant
// who publishes a track. After every request, A's room, its metadata, its participants
// and its waiting-room settings must be exactly as they were, and B's response must not
// contain any of A's unguessable data (sids, metadata, attribute values). Every answer
// to a documented operation must also be one the OpenAPI document allows.
func FuzzRESTTenantIsolation(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "/livekit/rooms", ""},
		{"GET", "/livekit/rooms/a-room", ""},
		{"DELETE", "/livekit/rooms/a-room", ""},
		{"DELETE", "/livekit/rooms/a-room/", ""},
		{"GET", "/livekit/rooms/a%2Droom", ""},
		{"POST", "/livekit/rooms", `{"room_name":"a-room","metadata":"{\"auth_id\":\"tenant-b\"}"}`},
		{"POST", "/livekit/token", `{"room_name":"a-room","participant_name":"Mallory","participant_identity":"ann"}`},
		{"POST", "/livekit/token", `{"room_name":"b-room","participant_name":"Bob","participant_identity":"bob","ttl":60}`},
		{"DELETE", "/livekit/participant", `{"room_name":"a-room","participant_identity":"ann"}`},
		{"DELETE", "/livekit/participant", `{"room_name":"b-room","participant_identity":"ann","room_name":"a-room"}`},
		{"POST", "/livekit/participant/mute", `{"room_name":"a-room","participant_identity":"ann","track_sid":"TR_x","muted":true}`},
		{"POST", "/livekit/participant/update", `{"room_name":"a-room","participant_identity":"ann","metadata":"pwned"}`},
		{"POST", "/livekit/participant/update", `{"ROOM_NAME":"a-room","room_name":"b-room","participant_identity":"ann","name":"x"}`},
		{"POST", "/livekit/participant/move", `{"room_name":"a-room","participant_identity":"ann","destination_room":"b-room"}`},
		{"POST", "/livekit/participant/move", `{"room_name":"b-room","participant_identity":"bob","destination_room":"a-room"}`},
		{"POST", "/livekit/participant/forward", `{"room_name":"a-room","participant_identity":"ann","destination_room":"b-two"}`},
		{"POST", "/livekit/participant/forward", `{"room_name":"b-room","participant_identity":"bob","destination_room":"a-room"}`},
		{"POST", "/livekit/bans", `{"room_name":"a-room","participant_identity":"ann","reason":"x"}`},
		{"POST", "/livekit/bans", `{"participant_identity":"ann","duration_seconds":60}`},
		{"GET", "/livekit/bans", ""},
		{"GET", "/livekit/bans?room_name=a-room&limit=5", ""},
		{"DELETE", "/livekit/bans", `{"participant_identity":"ghost"}`},
		{"GET", "/livekit/openapi.json", ""},
		{"GET", "/livekit/audit?room_name=a-room", ""},
		{"GET", "/livekit/audit?identity=ann&kind=participant_joined,track_published&order=oldest_first", ""},
		{"OPTIONS", "/livekit/participant", ""},
		{"POST", "/livekit/participants/disable", `{"room_name":"a-room","kind":"audio","allow_unmute":false}`},
		{"POST", "/livekit/participants/disable", `{"room_name":"b-room","kind":"video","allow_unmute":true,"presets":["x"],"SelectorJSON":{}}`},
		{"POST", "/livekit/participant/enable", `{"room_name":"a-room","participant_identity":"ann","kind":"audio"}`},
		{"POST", "/livekit/participant/pin", `{"room_name":"a-room","participant_identity":"ann"}`},
		{"POST", "/livekit/participant/unpin", `{"room_name":"b-room","participant_identity":"bob","room_name":"a-room"}`},
		{"POST", "/livekit/participants/remove", `{"room_name":"a-room","except_hosts":false}`},
		{"GET", "/livekit/presets", ""},
		{"GET", "/livekit/presets/host", ""},
		{"POST", "/livekit/presets", `{"name":"owned","can_publish":true,"host":{"kick_participant":true}}`},
		{"PUT", "/livekit/presets/x%2Fy", `{"can_subscribe":true}`},
		{"DELETE", "/livekit/presets/owned", ""},
		{"GET", "/livekit/waiting?room_name=a-room", ""},
		{"GET", "/livekit/waiting?room_name=b-room&room_name=a-room", ""},
		{"POST", "/livekit/waiting/admit", `{"room_name":"a-room","participant_identity":"ann"}`},
		{"POST", "/livekit/waiting/admit_all", `{"room_name":"a-room"}`},
		{"POST", "/livekit/waiting/deny", `{"room_name":"a-room","participant_identity":"ann","reason":"x"}`},
		{"GET", "/livekit/waiting/settings?room_name=a-room", ""},
		{"PUT", "/livekit/waiting/settings", `{"room_name":"a-room","enabled":true,"mode":"host_opens","message":"pwned"}`},
		{"PUT", "/livekit/waiting/settings", `{"room_name":"b-room","enabled":true,"room_name":"a-room"}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}

	srv := testutil.StartServer(f, withREST(true))
	secret := func(what string) string {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return what + "-" + hex.EncodeToString(b)
	}
	roomSecret, mdSecret, attrSecret := secret("room-secret"), secret("md-secret"), secret("attr-secret")
	banSecret, bannedSecret := secret("ban-secret"), secret("banned")
	call := func(method, path, token, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	for _, c := range []struct{ token, body string }{
		{tokA, `{"room_name":"a-room","metadata":"{\"secret\":\"` + roomSecret + `\"}"}`},
		{tokB, `{"room_name":"b-room"}`},
	} {
		if status, body := call("POST", "/livekit/rooms", c.token, c.body); status != 201 {
			f.Fatalf("create: %d %s", status, body)
		}
	}
	// A bans someone from every room of its tenant; B must neither see nor lift it.
	if status, body := call("POST", "/livekit/bans", tokA, `{"participant_identity":"`+bannedSecret+`","reason":"`+banSecret+`"}`); status != 200 {
		f.Fatalf("ban: %d %s", status, body)
	}
	ann := srv.Join(f, "a-room", "ann", testutil.WithMetadata(mdSecret), testutil.WithAttributes(map[string]string{"key": attrSecret}))
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := ann.Room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "mic"}); err != nil {
		f.Fatal(err)
	}
	srv.Join(f, "b-room", "bob")

	// snapshot is A's room as the server holds it, in a comparable form, once ann is
	// active with her track.
	snapshot := func() (string, []string) {
		rm, err := srv.Rooms().Room("a-room")
		if err != nil {
			return "a-room: " + err.Error(), nil
		}
		info := rm.Info()
		secrets := []string{info.Sid, roomSecret, mdSecret, attrSecret, banSecret, bannedSecret}
		var parts []string
		for _, pi := range rm.Participants() {
			secrets = append(secrets, pi.Sid)
			var tracks []string
			for _, tr := range pi.Tracks {
				secrets = append(secrets, tr.Sid)
				tracks = append(tracks, fmt.Sprintf("%s/%s/muted=%v", tr.Sid, tr.Name, tr.Muted))
			}
			perm, _ := json.Marshal(pi.Permission)
			attrs, _ := json.Marshal(pi.Attributes)
			parts = append(parts, fmt.Sprintf("%s sid=%s name=%q md=%q attrs=%s perm=%s state=%s kind=%s tracks=%v",
				pi.Identity, pi.Sid, pi.Name, pi.Metadata, attrs, perm, pi.State, pi.Kind, tracks))
		}
		sort.Strings(parts)
		ws, opened, err := srv.Rooms().WaitingRoomSettings("a-room")
		parts = append(parts, fmt.Sprintf("waiting room %+v opened=%v %v", ws, opened, err))
		bans, _, _ := srv.Bans().List(auth.BanFilter{Tenant: "tenant-a"})
		for _, b := range bans {
			parts = append(parts, fmt.Sprintf("ban of %s from %q: %s", b.Identity, b.Room, b.Reason))
		}
		return fmt.Sprintf("room sid=%s md=%q max=%d empty=%d departure=%d participants:\n%s",
			info.Sid, info.Metadata, info.MaxParticipants, info.EmptyTimeout, info.DepartureTimeout, strings.Join(parts, "\n")), secrets
	}
	testutil.Eventually(f, 10*time.Second, func() bool {
		s, _ := snapshot()
		return strings.Contains(s, "state=ACTIVE") && strings.Contains(s, "/mic/muted=false")
	}, "ann is not active with her track")
	want, secrets := snapshot()

	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/livekit/") {
			path = "/livekit/" + strings.TrimPrefix(path, "/")
		}
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if err != nil || req.URL.Host != strings.TrimPrefix(srv.URL, "http://") {
			return // not a request a client could send to this server
		}
		req.Header.Set("Authorization", "Bearer "+tokB)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()

		if got, _ := snapshot(); got != want {
			t.Fatalf("after B's %s %s %q (answered %d %s), A's room changed:\n%s\nwas:\n%s", method, path, body, resp.StatusCode, data, got, want)
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) && !strings.Contains(path, s) && !bytes.Contains(body, []byte(s)) {
				t.Fatalf("B's %s %s %q got A's %q: %d %s", method, path, body, s, resp.StatusCode, data)
			}
		}
		// Documented operations answer only as documented (the served document itself and
		// trailing-slash variants of paths are not operations).
		if _, _, err := openAPIRouter(t).FindRoute(req); err == nil {
			validateExchange(t, req, string(body), resp, data)
		}
	})
}
