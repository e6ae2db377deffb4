package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/privagg/privagg/catalog"
	"github.com/privagg/privagg/privacy"
)

// The JSON API (docs/console.md), read-only and under the console's token
// rules (a bearer token or the login cookie):
//
//	GET /api/v1/releases                        every release, oldest first
//	GET /api/v1/releases/{id}                   one release with its tables
//	GET /api/v1/releases/{id}/tables/{output}   a table's rows (the table page's filters apply)
//	GET /api/v1/budgets                         every dataset's budget (officers only)
//
// Errors are JSON too: {"error": "..."} with the HTTP status.

// APIPrefix starts every path of the JSON API.
const APIPrefix = "/api/"

func (s *Server) apiRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/releases", s.apiReleases)
	m.HandleFunc("GET /api/v1/releases/{id}", s.apiRelease)
	m.HandleFunc("GET /api/v1/releases/{id}/tables/{output}", s.apiTable)
	m.HandleFunc("GET /api/v1/budgets", s.apiBudgets)
	m.HandleFunc("GET /api/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, r, http.StatusNotFound, "there is no API endpoint "+r.URL.Path+"; see docs/console.md")
	})
}

// apiRelease is a release in the API: the catalog's fields, with links.
type apiRelease struct {
	catalog.Release
	Tables []apiTable `json:"tables"`
	Page   string     `json:"page"`
}

// apiTable is a table in the API, with its download and row URLs.
type apiTable struct {
	catalog.Table
	Page    string `json:"page"`
	CSV     string `json:"csv"`
	Parquet string `json:"parquet"`
	RowsURL string `json:"rows_url"`
}

func newAPIRelease(r catalog.Release) apiRelease {
	base := "/releases/" + url.PathEscape(r.ReleaseID)
	out := apiRelease{Release: r, Tables: []apiTable{}, Page: base}
	if !r.Published() || r.Problem != "" {
		return out
	}
	for _, t := range r.Tables {
		tb := base + "/tables/" + url.PathEscape(t.Output)
		out.Tables = append(out.Tables, apiTable{Table: t, Page: tb, CSV: tb + ".csv", Parquet: tb + ".parquet",
			RowsURL: "/api/v1/releases/" + url.PathEscape(r.ReleaseID) + "/tables/" + url.PathEscape(t.Output)})
	}
	return out
}

func (s *Server) apiReleases(w http.ResponseWriter, r *http.Request) {
	cat, err := s.loadCatalog(r.Context())
	if err != nil {
		s.apiFail(w, r, http.StatusInternalServerError, "the releases could not be read", err)
		return
	}
	out := struct {
		Releases []apiRelease `json:"releases"`
	}{Releases: []apiRelease{}}
	for _, rel := range cat.Releases {
		out.Releases = append(out.Releases, newAPIRelease(rel))
	}
	writeJSON(w, r, out)
}

// apiLookup is the release of the request's {id}; nil after an error.
func (s *Server) apiLookup(w http.ResponseWriter, r *http.Request) (*catalog.Catalog, *catalog.Release) {
	cat, err := s.loadCatalog(r.Context())
	if err != nil {
		s.apiFail(w, r, http.StatusInternalServerError, "the releases could not be read", err)
		return nil, nil
	}
	rel := cat.Release(r.PathValue("id"))
	if rel == nil {
		writeAPIError(w, r, http.StatusNotFound, fmt.Sprintf("there is no release %q", r.PathValue("id")))
	}
	return cat, rel
}

func (s *Server) apiRelease(w http.ResponseWriter, r *http.Request) {
	if _, rel := s.apiLookup(w, r); rel != nil {
		writeJSON(w, r, newAPIRelease(*rel))
	}
}

func (s *Server) apiTable(w http.ResponseWriter, r *http.Request) {
	cat, rel := s.apiLookup(w, r)
	if rel == nil {
		return
	}
	output := r.PathValue("output")
	var t *catalog.Table
	for i := range rel.Tables {
		if rel.Published() && rel.Problem == "" && rel.Tables[i].Output == output {
			t = &rel.Tables[i]
		}
	}
	if t == nil {
		writeAPIError(w, r, http.StatusNotFound, fmt.Sprintf("release %s has no published table %q", rel.ReleaseID, output))
		return
	}
	f, err := parseFilter(*t, r.URL.Query())
	if err != nil {
		writeAPIError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	rows, err := queryTable(r.Context(), cat, rel, *t, f, catalog.FormatJSON)
	if err != nil {
		s.apiFail(w, r, http.StatusInternalServerError, "the table could not be read", err)
		return
	}
	writeJSON(w, r, struct {
		ReleaseID string          `json:"release_id"`
		Output    string          `json:"output"`
		QueryName string          `json:"query_name"`
		Latest    bool            `json:"latest"`
		Filter    string          `json:"filter"`
		Rows      json.RawMessage `json:"rows"`
	}{rel.ReleaseID, t.Output, t.QueryName, t.Latest, f.Query, rows})
}

func (s *Server) apiBudgets(w http.ResponseWriter, r *http.Request) {
	if s.mode == ModeAnalyst {
		writeAPIError(w, r, http.StatusNotFound, "an analyst's console reads published folders only: budgets are in the ledger, which it does not read")
		return
	}
	sts, err := s.led.Statuses(r.Context())
	if err != nil {
		s.apiFail(w, r, http.StatusInternalServerError, "the ledger could not be read", err)
		return
	}
	if sts == nil {
		sts = []privacy.BudgetStatus{}
	}
	writeJSON(w, r, struct {
		Budgets []privacy.BudgetStatus `json:"budgets"`
	}{sts})
}

// apiFail logs err and answers with status and msg plus the error (the
// console's users may read what it reads; see publicError).
func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	s.cfg.Logger.Error("console: API request failed", "path", r.URL.Path, "status", status, "err", err)
	writeAPIError(w, r, status, msg+": "+publicError(err))
}

func writeAPIError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSONStatus(w, r, status, struct {
		Error string `json:"error"`
	}{msg})
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	writeJSONStatus(w, r, http.StatusOK, v)
}

func writeJSONStatus(w http.ResponseWriter, r *http.Request, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"error": "the answer could not be encoded"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(data, '\n'))
	}
}
