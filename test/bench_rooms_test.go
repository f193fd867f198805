package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/usher-rtc/usher/internal/testutil"
)

// benchPost sends one protobuf Twirp request over a keep-alive connection.
func benchPost(b *testing.B, client *http.Client, url, method, token string, req, resp proto.Message) {
	body, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	hr, _ := http.NewRequest(http.MethodPost, url+"/twirp/livekit.RoomService/"+method, bytes.NewReader(body))
	hr.Header.Set("Content-Type", "application/protobuf")
	hr.Header.Set("Authorization", "Bearer "+token)
	r, err := client.Do(hr)
	if err != nil {
		b.Fatal(err)
	}
	data, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 {
		b.Fatalf("%s: %d %s", method, r.StatusCode, data)
	}
	if err := proto.Unmarshal(data, resp); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCreateRoomHTTP measures CreateRoom of a new room over real HTTP on loopback
// (protobuf, one pre-signed token, keep-alive): token check, decoding, room creation.
func BenchmarkCreateRoomHTTP(b *testing.B) {
	srv := testutil.StartServer(b)
	tok := testutil.Token(b, "bench", &lkauth.VideoGrant{RoomCreate: true})
	client := &http.Client{}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var room livekit.Room
		benchPost(b, client, srv.URL, "CreateRoom", tok, &livekit.CreateRoomRequest{Name: fmt.Sprintf("bench-%d", i)}, &room)
		i++
	}
}

// BenchmarkListRoomsHTTP measures ListRooms of 100 open rooms over real HTTP on loopback.
func BenchmarkListRoomsHTTP(b *testing.B) {
	srv := testutil.StartServer(b)
	ctx := context.Background()
	rc := srv.RoomClient()
	for i := range 100 {
		if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: fmt.Sprintf("room-%03d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	tok := testutil.Token(b, "bench", &lkauth.VideoGrant{RoomList: true})
	client := &http.Client{}
	b.ReportAllocs()
	for b.Loop() {
		var resp livekit.ListRoomsResponse
		benchPost(b, client, srv.URL, "ListRooms", tok, &livekit.ListRoomsRequest{}, &resp)
		if len(resp.Rooms) != 100 {
			b.Fatalf("listed %d rooms", len(resp.Rooms))
		}
	}
}

// BenchmarkCreateRoomSDK measures CreateRoom through the official SDK client, which
// signs a fresh token for every call, as a backend does.
func BenchmarkCreateRoomSDK(b *testing.B) {
	srv := testutil.StartServer(b)
	rc := srv.RoomClient()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := rc.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: fmt.Sprintf("sdk-%d", i)}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
