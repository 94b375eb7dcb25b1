package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/dure-network/dure/chain"
)

type listingBackend struct {
	*chainBackend
	mods Modules
}

func (b listingBackend) Modules(context.Context) (Modules, error) { return b.mods, nil }

// GET /v1/modules answers with what the backend lists, and not_found from
// a backend that cannot list its modules.
func TestModulesEndpoint(t *testing.T) {
	d := chain.Description{Short: "notes", Msgs: []chain.MsgDesc{{Type: "post", Fields: []chain.Field{
		{Name: "topic", Kind: chain.FieldEnum, Enum: []string{"garden"}, Required: true}}}},
		Queries: []chain.QueryDesc{{Path: "note", Args: []chain.Field{{Name: "id", Kind: chain.FieldUint}}}}}
	want := Modules{Modules: []Module{DescribeModule("notes", d)}}
	srv := httptest.NewServer(New(listingBackend{newChainBackend(), want}, Config{}))
	defer srv.Close()
	got, err := NewClient(srv.URL).Modules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Modules) != 1 || got.Modules[0].Msgs[0].Fields[0].Kind != "enum" || got.Modules[0].Queries[0].Args[0].Kind != "uint" ||
		!got.Modules[0].Msgs[0].Fields[0].Required {
		t.Fatalf("modules %+v", got)
	}

	plain := httptest.NewServer(New(newChainBackend(), Config{}))
	defer plain.Close()
	var ae *APIError
	if _, err := NewClient(plain.URL).Modules(context.Background()); !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" {
		t.Fatalf("backend without a module list: %v", err)
	}
}
