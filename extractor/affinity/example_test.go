package affinity_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
)

// Paging through all persons, checkpointing NextToken after each committed page, with the
// quota ledger refusing requests once the budget is spent.
func ExampleClient_Persons() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page_token") == "" {
			fmt.Fprint(w, `{"persons":[{"id":1,"type":0,"emails":[]}],"next_page_token":"p2"}`)
			return
		}
		fmt.Fprint(w, `{"persons":[{"id":2,"type":1,"emails":[]}],"next_page_token":null}`)
	}))
	defer srv.Close()

	budget := 2
	c, err := affinity.NewClient(srv.URL, "demo-key", affinity.WithReserve(func(context.Context) error {
		if budget == 0 {
			return affinity.ErrBudgetSpent
		}
		budget--
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	checkpoint := ""
	for page, err := range c.Persons(context.Background(), affinity.PersonQuery{PageQuery: affinity.PageQuery{PageToken: checkpoint}}) {
		if errors.Is(err, affinity.ErrBudgetSpent) {
			fmt.Println("budget spent; resume from", checkpoint)
			return
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("page", page.Token, "persons", len(page.Items))
		checkpoint = page.NextToken // commit rows and checkpoint together
	}
	fmt.Println("done")
	// Output:
	// page  persons 1
	// page p2 persons 1
	// done
}
