package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dure-network/dure/chain"
	"github.com/dure-network/dure/node/api"
	"github.com/dure-network/dure/node/config"
)

// GET /v1/modules lists the registry's modules in order, each with the
// messages, queries and fields it describes, in snake_case JSON; the Go
// client reads the same answer.
func TestModulesEndpointListsTheRegistry(t *testing.T) {
	home, _ := initHome(t, "modules-1")
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := Open(ctx, cfg, slog.New(slog.DiscardHandler), chain.PrivKey{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.closeStorage()
	srv := httptest.NewServer(api.New(backend{n}, api.Config{}))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/v1/modules")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/modules: %d %s", res.StatusCode, body)
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	checkSnake(t, "/v1/modules", raw)

	mods, err := api.NewClient(srv.URL).Modules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names, want []string
	for _, m := range mods.Modules {
		names = append(names, m.Name)
	}
	for _, e := range n.app.entries {
		want = append(want, e.Module.Name())
	}
	if !slices.Equal(names, want) {
		t.Fatalf("modules %v, registry order %v", names, want)
	}
	notes := mods.Modules[slices.Index(names, "notes")]
	var post *api.ModuleMsg
	for i := range notes.Msgs {
		if notes.Msgs[i].Type == "post" {
			post = &notes.Msgs[i]
		}
	}
	if post == nil || len(notes.Queries) == 0 || notes.Short == "" {
		t.Fatalf("notes described as %+v", notes)
	}
	var topic *api.ModuleField
	for i := range post.Fields {
		if post.Fields[i].Name == "topic" {
			topic = &post.Fields[i]
		}
	}
	if topic == nil || topic.Kind == "" || len(post.Examples) == 0 {
		t.Fatalf("notes post described as %+v", *post)
	}
}
