package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/dure-network/dure/chain"
)

// ModuleLister is the optional backend capability behind GET /v1/modules;
// a backend without it answers 404 there.
type ModuleLister interface {
	// Modules lists the registered modules in the order the node runs them.
	Modules(ctx context.Context) (Modules, error)
}

// Modules is GET /v1/modules: the chain's modules in execution order, with
// the messages and queries each describes (chain.Describer).
type Modules struct {
	Modules []Module `json:"modules"`
}

// Module is one registered module. A module that does not describe
// itself has only its name.
type Module struct {
	Name    string      `json:"name"`
	Short   string      `json:"short,omitempty"`
	Long    string      `json:"long,omitempty"`
	Msgs    []ModuleMsg `json:"msgs"`
	Queries []ModuleQry `json:"queries"`
}

// ModuleMsg describes one message type (chain.MsgDesc).
type ModuleMsg struct {
	Type     string        `json:"type"`
	Short    string        `json:"short,omitempty"`
	Long     string        `json:"long,omitempty"`
	Examples []string      `json:"examples,omitempty"`
	Fields   []ModuleField `json:"fields"`
}

// ModuleQry describes one query path (chain.QueryDesc).
type ModuleQry struct {
	Path     string        `json:"path"`
	Short    string        `json:"short,omitempty"`
	Args     []ModuleField `json:"args"`
	Examples []string      `json:"examples,omitempty"`
}

// ModuleField is one message field or query argument (chain.Field); the
// module's own value check is not part of it.
type ModuleField struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Help     string   `json:"help,omitempty"`
	Default  string   `json:"default,omitempty"`
	Required bool     `json:"required,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Min      uint64   `json:"min,omitempty"`
	Max      uint64   `json:"max,omitempty"`
	Bits     int      `json:"bits,omitempty"`
}

// DescribeModule is the API form of a module's description.
func DescribeModule(name string, d chain.Description) Module {
	m := Module{Name: name, Short: d.Short, Long: d.Long, Msgs: []ModuleMsg{}, Queries: []ModuleQry{}}
	for _, md := range d.Msgs {
		m.Msgs = append(m.Msgs, ModuleMsg{Type: md.Type, Short: md.Short, Long: md.Long, Examples: md.Examples, Fields: fields(md.Fields)})
	}
	for _, q := range d.Queries {
		m.Queries = append(m.Queries, ModuleQry{Path: q.Path, Short: q.Short, Args: fields(q.Args), Examples: q.Examples})
	}
	return m
}

func fields(fs []chain.Field) []ModuleField {
	out := make([]ModuleField, 0, len(fs))
	for _, f := range fs {
		out = append(out, ModuleField{Name: f.Name, Kind: f.Kind.String(), Help: f.Help, Default: f.Default,
			Required: f.Required, Enum: f.Enum, Min: f.Min, Max: f.Max, Bits: f.Bits})
	}
	return out
}

func (s *Server) modules(w http.ResponseWriter, r *http.Request) {
	l, ok := s.b.(ModuleLister)
	if !ok {
		writeError(w, fmt.Errorf("%w: this node does not list its modules", ErrNotFound))
		return
	}
	m, err := l.Modules(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// Modules lists the node's modules and what they describe.
func (c *Client) Modules(ctx context.Context) (Modules, error) {
	var m Modules
	return m, c.do(ctx, http.MethodGet, "/v1/modules", nil, "", &m)
}
