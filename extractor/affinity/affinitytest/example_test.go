package affinitytest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// A fake Affinity behind a test listener: page through persons with the documented envelope.
func ExampleNewServer() {
	ws := affinitytest.Generate(affinitytest.DefaultConfig())
	srv := affinitytest.NewServer(ws, affinitytest.WithAPIKey("k"))
	hs := httptest.NewServer(srv)
	defer hs.Close()

	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/persons?page_size=100", nil)
	req.SetBasicAuth("", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var page struct {
		Persons       []json.RawMessage `json:"persons"`
		NextPageToken *string           `json:"next_page_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	tok, _ := affinitytest.DecodePageToken(*page.NextPageToken)
	fmt.Println(resp.StatusCode, len(page.Persons), tok.Offset, srv.Requests()["GET /persons"])
	// Output: 200 100 100 1
}
