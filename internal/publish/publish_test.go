package publish

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// exercise runs the behaviour every destination must show: tests run it
// on the temporary directory and on a FAT stick.
func exercise(t *testing.T, dest, work string) {
	t.Run("publish", func(t *testing.T) {
		path := filepath.Join(dest, "a.valise")
		p, err := Create(path, Options{Mode: 0o644, WorkDir: work})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Abort()
		if _, err := p.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("final name visible before Publish: %v", err)
		}
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != "hello" {
			t.Fatalf("published %q, %v", got, err)
		}
		p.Abort() // after Commit: nothing
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("Abort after Commit removed the file: %v", err)
		}
		assertClean(t, dest, work, "a.valise")
	})
	t.Run("second publish refused, first untouched", func(t *testing.T) {
		path := filepath.Join(dest, "b.valise")
		if err := WriteFile(path, []byte("first"), Options{WorkDir: work}); err != nil {
			t.Fatal(err)
		}
		err := WriteFile(path, []byte("second"), Options{WorkDir: work})
		if !errors.Is(err, fs.ErrExist) || !errors.Is(err, ErrExist) {
			t.Fatalf("second publish: %v, want ErrExist", err)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Fatalf("second publish: %T, want *fs.PathError", err)
		}
		// The name appears while the second one is being written.
		p, err := Create(filepath.Join(dest, "c.valise"), Options{WorkDir: work})
		if err != nil {
			t.Fatal(err)
		}
		p.Write([]byte("late"))
		if err := WriteFile(filepath.Join(dest, "c.valise"), []byte("early"), Options{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("publish onto a name taken meanwhile: %v, want ErrExist", err)
		}
		for name, want := range map[string]string{"b.valise": "first", "c.valise": "early"} {
			if got, _ := os.ReadFile(filepath.Join(dest, name)); string(got) != want {
				t.Errorf("%s holds %q, want %q", name, got, want)
			}
		}
		assertClean(t, dest, work, "a.valise", "b.valise", "c.valise")
	})
	t.Run("abort", func(t *testing.T) {
		p, err := Create(filepath.Join(dest, "d.valise"), Options{WorkDir: work})
		if err != nil {
			t.Fatal(err)
		}
		p.Write(bytes.Repeat([]byte("x"), 100<<10))
		if err := p.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Write([]byte("x")); err == nil {
			t.Fatal("write after Abort succeeded")
		}
		assertClean(t, dest, work, "a.valise", "b.valise", "c.valise")
	})
	t.Run("abort after publish removes the file", func(t *testing.T) {
		path := filepath.Join(dest, "e.valise")
		p, err := Create(path, Options{WorkDir: work})
		if err != nil {
			t.Fatal(err)
		}
		p.Write([]byte("x"))
		if err := p.Publish(); err != nil {
			t.Fatal(err)
		}
		if err := p.Abort(); err != nil {
			t.Fatal(err)
		}
		assertClean(t, dest, work, "a.valise", "b.valise", "c.valise")
	})
	t.Run("killed runs", func(t *testing.T) {
		// Three runs die: one while writing, one after its rename (before
		// Done), one whose destination vanished while it renamed.
		writing := mustCreate(t, filepath.Join(dest, "w.valise"), work, "w")
		writing.Write([]byte("partial"))
		renamed := mustCreate(t, filepath.Join(dest, "r.valise"), work, "r")
		renamed.Write([]byte("whole"))
		if err := renamed.Publish(); err != nil {
			t.Fatal(err)
		}
		live := mustCreate(t, filepath.Join(dest, "l.valise"), work, "l")
		defer live.Abort()
		if got, err := Cleanup(work); err != nil || len(got) != 0 {
			t.Fatalf("Cleanup with live runs took %v, %v", got, err)
		}
		kill(writing)
		kill(renamed)
		got, err := Cleanup(work)
		if err != nil {
			t.Fatal(err)
		}
		states := map[string]State{}
		for _, in := range got {
			states[string(in.Note)] = in.State
		}
		if len(got) != 2 || states["w"] != NotPublished || states["r"] != Published {
			t.Fatalf("Cleanup: %+v, want w not published and r published", got)
		}
		if b, _ := os.ReadFile(filepath.Join(dest, "r.valise")); string(b) != "whole" {
			t.Errorf("published file after cleanup: %q", b)
		}
		if _, err := os.Lstat(writing.TempName()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("temporary file of the killed run left: %v", err)
		}
		if got, _ := Cleanup(work); len(got) != 0 {
			t.Errorf("second Cleanup found %v", got)
		}
		live.Abort()
		os.Remove(filepath.Join(dest, "r.valise"))
		assertClean(t, dest, work, "a.valise", "b.valise", "c.valise")
	})
}

func mustCreate(t *testing.T, path, work, note string) *File {
	t.Helper()
	p, err := Create(path, Options{WorkDir: work, Note: []byte(note)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// kill leaves p as a process killed now would: files open no more, the
// journal's lock released, nothing removed.
func kill(p *File) {
	if !p.closed {
		p.f.Close()
	}
	p.j.f.Close()
	p.j = nil
	p.err = ErrClosed
}

// assertClean checks that dest holds exactly the named files (no
// temporary files) and work no journal entries.
func assertClean(t *testing.T, dest, work string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %v, want %v", dest, got, names)
	}
	if work != "" {
		ents, _ := os.ReadDir(work)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), journalPrefix) {
				t.Errorf("journal entry %s left", e.Name())
			}
		}
	}
}

func TestPublish(t *testing.T) {
	exercise(t, t.TempDir(), t.TempDir())
}

func TestMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes on Windows")
	}
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"secret": 0, "public": 0o644} {
		if err := WriteFile(filepath.Join(dir, name), []byte("x"), Options{Mode: mode}); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(filepath.Join(dir, name))
		want := mode
		if want == 0 {
			want = 0o600
		}
		if st.Mode().Perm()&^want != 0 { // the umask may take bits away
			t.Errorf("%s: mode %v, want at most %v", name, st.Mode().Perm(), want)
		}
	}
}

// TestNoRenameWithoutReplace runs every case as on a file system that
// has no rename without replace (the kernel's own existence check
// included): only the exclusive placeholder keeps a file from being
// replaced.
func TestNoRenameWithoutReplace(t *testing.T) {
	renameHook = func(old, new string) error { return errUnsupported }
	defer func() { renameHook = renameNoReplace }()
	exercise(t, t.TempDir(), t.TempDir())
}

// TestPlaceholder runs the fallback used where the file system has no
// rename without replace, on any file system.
func TestPlaceholder(t *testing.T) {
	dest, work := t.TempDir(), t.TempDir()
	p := mustCreate(t, filepath.Join(dest, "p.valise"), work, "p")
	p.Write([]byte("data"))
	p.f.Sync()
	p.f.Close()
	p.closed = true
	// As Publish does after a rename that is not supported: reserve, then
	// die before the rename.
	p.j.mark(phasePublishing)
	if err := os.WriteFile(p.final, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p.j.mark(phasePlaceholder)
	kill(p)
	got, err := Cleanup(work)
	if err != nil || len(got) != 1 || got[0].State != NotPublished || len(got[0].Removed) != 2 {
		t.Fatalf("Cleanup: %+v, %v; want not published, temporary file and placeholder removed", got, err)
	}
	assertClean(t, dest, work)
}

func TestParseJournal(t *testing.T) {
	abs := func(s string) string { return filepath.Join(string(filepath.Separator)+"stick", s) }
	good := journalMagic + "\nfinal \"" + abs("a.valise") + "\"\ntemp \"" + abs(".valise-00.part") + "\"\nnote bm90ZQ==\npublishing\n"
	good = strings.ReplaceAll(good, `\`, `\\`)
	e, err := parseJournal([]byte(good))
	if err != nil || string(e.note) != "note" || !e.publishing || e.placeholder {
		t.Fatalf("parse: %+v, %v", e, err)
	}
	for _, bad := range []string{
		"",
		strings.Replace(good, "publishing", "published", 1),
		strings.Replace(good, journalMagic, "valise-publish/v2", 1),
		strings.Replace(good, ".valise-00.part", "victim", 1),
		strings.Replace(good, abs(".valise-00.part"), filepath.Join(string(filepath.Separator)+"etc", ".valise-00.part"), 1),
		strings.Replace(good, "bm90ZQ==", "!", 1),
	} {
		if _, err := parseJournal([]byte(bad)); err == nil {
			t.Errorf("parse accepted %q", bad)
		}
	}
}

// TestCleanupUnwrittenJournal: a run killed while it wrote its journal
// entry leaves a prefix of one (no temporary file exists yet); Cleanup
// removes it without an error, and still refuses an entry that is whole
// but wrong, or not an entry at all.
func TestCleanupUnwrittenJournal(t *testing.T) {
	work := t.TempDir()
	dest := t.TempDir()
	j, err := newJournal(work, filepath.Join(dest, "a.valise"), filepath.Join(dest, ".valise-00.part"), []byte("note"))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(j.path)
	if err != nil {
		t.Fatal(err)
	}
	j.remove()
	entry := filepath.Join(work, journalPrefix+"0123456789abcdef")
	cut := 0
	for n := 0; n < len(whole); n++ {
		if err := os.WriteFile(entry, whole[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Cleanup(work)
		if err != nil || len(got) != 0 {
			t.Fatalf("entry cut at %d bytes: Cleanup = %v, %v", n, got, err)
		}
		if _, err := os.Stat(entry); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("entry cut at %d bytes: still there", n)
		}
		cut++
	}
	for _, bad := range []string{"not a journal\n", "valise-publish/v2\nfinal \"x\"\n", journalMagic + "\nfinal x\ntemp y\nnote z\n"} {
		if err := os.WriteFile(entry, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Cleanup(work); err == nil {
			t.Errorf("Cleanup accepted entry %q", bad)
		}
		os.Remove(entry)
	}
	t.Logf("%d cut entries removed", cut)
}
