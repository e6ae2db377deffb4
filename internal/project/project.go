// Package project reads privagg.yaml, the project file that tells every
// privagg command where the project's ledger is (and so its release store
// and run reports, beside it) and which folders hold its published outputs.
// It is found in the current folder or the nearest folder above it, or named
// with --project / PRIVAGG_PROJECT. Paths in it are relative to its folder.
//
//	version: 1                          # the only version is 1
//	ledger: ledger/privagg-ledger.duckdb
//	published: [out/]                   # what analysts query (privagg query)
package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the project file's name.
const FileName = "privagg.yaml"

// EnvVar names the project file (or its folder) like --project.
const EnvVar = "PRIVAGG_PROJECT"

// None, as --project or PRIVAGG_PROJECT, means: use no project file.
const None = "none"

// Version is the project file format this package reads.
const Version = 1

// Project is a loaded project file; every path is absolute.
type Project struct {
	File      string   // the privagg.yaml
	Ledger    string   // "" if the file names none
	Published []string // published folders, in file order
}

// file is the project file as written.
type file struct {
	Version   *int     `yaml:"version"`
	Ledger    *string  `yaml:"ledger"`
	Published []string `yaml:"published"`
}

// Error is a project file that cannot be read or is not valid.
type Error struct {
	File    string
	Problem string
}

func (e *Error) Error() string { return fmt.Sprintf("project file %s: %s", e.File, e.Problem) }

// Find returns the project file to use: named by explicit (a file, or a
// folder holding privagg.yaml; None for no project), else the privagg.yaml
// of dir or of the nearest folder above it. It returns nil and no error when
// there is none.
func Find(explicit, dir string) (*Project, error) {
	if explicit == None {
		return nil, nil
	}
	if explicit != "" {
		path := explicit
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			path = filepath.Join(path, FileName)
		}
		return Load(path)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := abs; ; d = filepath.Dir(d) {
		path := filepath.Join(d, FileName)
		if _, err := os.Stat(path); err == nil || errors.Is(err, fs.ErrPermission) && canList(d) {
			return Load(path)
		}
		if d == filepath.Dir(d) {
			return nil, nil
		}
	}
}

// canList reports whether this user can list dir: a privagg.yaml that
// exists but cannot be read is an error, a folder that cannot be searched is
// passed by.
func canList(dir string) bool {
	_, err := os.ReadDir(dir)
	return err == nil
}

// Load reads and checks the project file at path. Unknown keys are errors.
func Load(path string) (*Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Problem: err.Error()}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: abs, Problem: "cannot be read: " + err.Error()}
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: abs, Problem: "is empty; it needs version: 1 and ledger: PATH or published: [DIR]"}
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.ReplaceAll(msg, "not found in type project.file", "is not a project file key (version, ledger, published)")
		return nil, &Error{File: abs, Problem: msg}
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: abs, Problem: "holds more than one YAML document"}
	}
	switch {
	case f.Version == nil:
		return nil, &Error{File: abs, Problem: "version: is required (version: 1)"}
	case *f.Version != Version:
		return nil, &Error{File: abs, Problem: fmt.Sprintf("version: %d is not supported (want %d)", *f.Version, Version)}
	case f.Ledger == nil && len(f.Published) == 0:
		return nil, &Error{File: abs, Problem: "names neither a ledger (ledger: PATH) nor published folders (published: [DIR])"}
	}
	dir := filepath.Dir(abs)
	p := &Project{File: abs}
	if f.Ledger != nil {
		if strings.TrimSpace(*f.Ledger) == "" {
			return nil, &Error{File: abs, Problem: "ledger: must not be empty"}
		}
		p.Ledger = resolve(dir, *f.Ledger)
	}
	for i, d := range f.Published {
		if strings.TrimSpace(d) == "" {
			return nil, &Error{File: abs, Problem: fmt.Sprintf("published[%d]: must not be empty", i)}
		}
		p.Published = append(p.Published, resolve(dir, d))
	}
	return p, nil
}

// resolve makes path absolute against dir.
func resolve(dir, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(dir, path)
}

// SamePath reports whether a and b name the same file: equal once cleaned,
// or once the symlinks of their folders are resolved.
func SamePath(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if a == b {
		return true
	}
	real := func(p string) string {
		d, err := filepath.EvalSymlinks(filepath.Dir(p))
		if err != nil {
			return p
		}
		return filepath.Join(d, filepath.Base(p))
	}
	return real(a) == real(b)
}
