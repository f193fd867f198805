package test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/usher-rtc/usher/internal/testutil"
)

// twirpJSON posts body to one of Usher's JSON Twirp services (path "usher.X/Method")
// with token, decodes the answer (the response, or the Twirp error) into out when it
// is not nil, and returns the HTTP status.
func twirpJSON(t *testing.T, srv *testutil.TestServer, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/twirp/"+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s answered %d %q", path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}
