package web

// TEMPORARY: a stand-in for the lead's skeleton (web.go), so that the job
// pages build and test before it lands. Deleted when main's web.go is
// merged.

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/basalt-lava/basalt/internal/lab"
	"github.com/basalt-lava/basalt/internal/logstore"
	"github.com/basalt-lava/basalt/internal/store"
	"github.com/basalt-lava/basalt/internal/webauth"
)

//go:embed templates/job*.html
var templateFS embed.FS

//go:embed static/job*
var staticFS embed.FS

type Config struct {
	Store   store.Store
	Logs    *logstore.Logs
	Lab     *lab.Lab
	Auth    *webauth.Auth
	Version string
	DataDir string
}

type site struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template
	log   *slog.Logger
}

const tmpLayout = `{{define "layout"}}<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title><link rel="stylesheet" href="/static/job.css"></head><body><main>{{template "content" .Data}}</main></body></html>{{end}}`

func New(cfg Config) (http.Handler, error) {
	s := &site{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}, log: slog.Default()}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		t := template.New("layout").Funcs(s.funcs())
		if _, err := t.Parse(tmpLayout); err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, n); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		s.pages[n[len("templates/"):]] = t
	}
	s.mux.Handle("GET /static/", http.FileServerFS(staticFS))
	s.jobRoutes()
	return s.mux, nil
}

func (s *site) funcs() template.FuncMap { return template.FuncMap{} }

type pageData struct {
	Title string
	Data  any
}

func (s *site) page(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	t := s.pages[name]
	if t == nil {
		http.Error(w, "no template "+name, 500)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.ExecuteTemplate(w, "layout", pageData{title, data}); err != nil {
		s.log.Error("page", "err", err)
	}
}
