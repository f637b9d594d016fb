package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// staticFile is an embedded file ready to serve.
type staticFile struct {
	data        []byte
	hash        string // first 16 hex digits of its SHA-256
	contentType string
}

// staticFiles maps paths under static/ ("app.css", "vendor/leaflet/leaflet.js")
// to their contents, loaded once from the embedded tree.
var staticFiles = loadStatic(staticFS)

func loadStatic(fsys fs.FS) map[string]staticFile {
	files := make(map[string]staticFile)
	// The tree is embedded at build time; a walk error would be a build
	// fault and leaves the map without the unreadable files.
	_ = fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(data)
		files[strings.TrimPrefix(p, "static/")] = staticFile{
			data:        data,
			hash:        hex.EncodeToString(sum[:8]),
			contentType: staticContentType(p),
		}
		return nil
	})
	return files
}

// staticTypes are the content types of the static files by extension.
// They are fixed here rather than taken from the host's MIME tables.
var staticTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".json":  "application/json",
	".png":   "image/png",
	".svg":   "image/svg+xml",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
	".md":    "text/plain; charset=utf-8",
}

func staticContentType(name string) string {
	if path.Base(name) == "LICENSE" {
		return "text/plain; charset=utf-8"
	}
	if t, ok := staticTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

// staticURL is the URL of a static file with its content hash, so it can
// be cached for a year and still change with every release that changes it.
func staticURL(name string) string {
	if f, ok := staticFiles[name]; ok {
		return "/static/" + name + "?v=" + f.hash
	}
	return "/static/" + name
}

// handleStatic serves the embedded static files. Requests carrying the
// file's current hash (see staticURL) may be cached for a year; others are
// revalidated by ETag. Directories are not listed.
func handleStatic() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		f, ok := staticFiles[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", `"`+f.hash+`"`)
		if r.URL.Query().Get("v") == f.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
	})
}
