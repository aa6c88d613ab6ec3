package main

// The cost of authorship (issue 12, docs/FORMAT.md §3.4): valise cannot
// pack without proofs, so the bench measures the share of authorship in
// what it does rather than comparing with and without.
//
// Time: one extra run of each measured command under the CPU profiler
// ($VALISE_CPUPROFILE); a sample counts as authorship when any frame of its
// stack is authorship code (authorFrame), so that hashing, JSON and SQLite
// work done on its behalf count with it, and no sample counts twice.
//
// Size: the bundle's payload, decrypted with a recipient's identity and
// decompressed, split into the manifest, record lines, proof lines and the
// tree section (FORMAT.md §3); the proof and tree bytes are compressed
// alone, and the payload is compressed with and without them, with the
// writer's zstd settings (bundle/writer.go).

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// authorFuncs are the functions whose work is authorship, by their full
// name as the profile gives it; a closure inside one (NAME.funcN) counts
// with it.
var authorFuncs = []string{
	// exchange: import checks (on the resolving goroutine and at the end),
	// claims carried to the version written, pack-side leaves and claims.
	"valise/exchange.newAuthorship",
	"valise/exchange.checkHandlingAuthor",
	"valise/exchange.resultClaims",
	"valise/exchange.(*packer).prove",
	"valise/exchange.(*packer).writeTrees",
	"valise/exchange.(*packer).unprovable",
	// store: the trees kept to prove onwards, claims carried on a change.
	"valise/store.(*Tx).PutTree",
	"valise/store.(*Tx).AddTreeLeaves",
	"valise/store.(*Tx).AddTreeNodes",
	"valise/store.(*Store).Tree",
	"valise/store.(*Tx).carryClaims",
	// bundle: writing proof lines and the tree section.
	"valise/bundle.(*Writer).WriteProof",
	"valise/bundle.(*Writer).WriteTree",
}

// authorPrefixes are whole packages and types that are authorship.
var authorPrefixes = []string{
	"valise/proof.",
	"valise/exchange.(*authorship).",
}

// authorCalls are calls that are authorship only where they are made: pack
// --input decodes each record line in send only for its leaf (before
// proofs, send took the key and never decoded the line).
var authorCalls = [][2]string{
	{"valise/exchange.(*packer).send", "valise/schema.Decode"},
}

func authorFrame(fn string) bool {
	for _, p := range authorPrefixes {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	for _, f := range authorFuncs {
		if fn == f || strings.HasPrefix(fn, f+".func") {
			return true
		}
	}
	return false
}

// authorAt reports whether frame i of a stack (leaf first) is authorship
// code, or an authorship-only call (authorCalls).
func authorAt(stack []string, i int) bool {
	fn := stack[i]
	if authorFrame(fn) {
		return true
	}
	if i+1 < len(stack) {
		for _, c := range authorCalls {
			if stack[i+1] == c[0] && (fn == c[1] || strings.HasPrefix(fn, c[1]+".")) {
				return true
			}
		}
	}
	return false
}

// outermostAuthor returns the index of the authorship frame nearest the
// root of a stack (leaf first), -1 when none is.
func outermostAuthor(stack []string) int {
	for i := len(stack) - 1; i >= 0; i-- {
		if authorAt(stack, i) {
			return i
		}
	}
	return -1
}

// cpuShare is the authorship share of one profiled run.
type cpuShare struct {
	total, author time.Duration // CPU time sampled, all and authorship's
	called        time.Duration // of author, what authorCalls count (no authorship frame in the stack)
	top           []string      // the authorship functions with the most samples, for the log
}

func (c *cpuShare) share() float64 {
	if c == nil || c.total == 0 {
		return 0
	}
	return float64(c.author) / float64(c.total)
}

// profileShare reads a CPU profile with `go tool pprof -traces` and sums
// the samples whose stack holds authorship code.
func profileShare(profile string) (*cpuShare, error) {
	out, err := exec.Command("go", "tool", "pprof", "-traces", profile).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("go tool pprof -traces %s: %v: %s", profile, err, ee.Stderr)
		}
		return nil, fmt.Errorf("go tool pprof -traces %s: %v", profile, err)
	}
	res := &cpuShare{}
	byFunc := map[string]time.Duration{}
	var stack []string
	var value time.Duration
	started := false
	flush := func() {
		if len(stack) > 0 {
			res.total += value
			if i := outermostAuthor(stack); i >= 0 {
				res.author += value
				byFunc[stack[i]] += value
				if !authorFrame(stack[i]) {
					res.called += value
				}
			}
		}
		stack, value = stack[:0], 0
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			started = true
			continue
		}
		if !started || strings.TrimSpace(line) == "" {
			continue
		}
		if len(stack) == 0 {
			f := strings.Fields(line)
			if len(f) < 2 {
				return nil, fmt.Errorf("pprof -traces: unexpected line %q", line)
			}
			d, err := time.ParseDuration(f[0])
			if err != nil {
				return nil, fmt.Errorf("pprof -traces: sample value in %q: %v", line, err)
			}
			value = d
			stack = append(stack, strings.Join(f[1:], " "))
			continue
		}
		stack = append(stack, strings.TrimSpace(line))
	}
	flush()
	if res.total == 0 {
		return nil, fmt.Errorf("profile %s holds no samples", profile)
	}
	fns := make([]string, 0, len(byFunc))
	for fn := range byFunc {
		fns = append(fns, fn)
	}
	slices.SortFunc(fns, func(a, b string) int { return cmp.Compare(byFunc[b], byFunc[a]) })
	for _, fn := range fns {
		res.top = append(res.top, fmt.Sprintf("%s %.2fs", fn, byFunc[fn].Seconds()))
	}
	return res, nil
}

// profiled runs valise with $VALISE_CPUPROFILE set to a file of the work
// directory, kept for a look with go tool pprof (bench/out/run-N-NAME.pprof),
// and returns the authorship share of its CPU samples.
func profiled(dir, name string, stdout io.Writer, args ...string) (*cpuShare, error) {
	c, _, err := profiledSample(dir, name, stdout, args...)
	return c, err
}

// profiledSample is profiled, also returning the run's measures.
func profiledSample(dir, name string, stdout io.Writer, args ...string) (*cpuShare, sample, error) {
	prof := filepath.Join(workDir, filepath.Base(dir)+"-"+name+".pprof")
	s, err := cmdEnv(dir, []string{"VALISE_CPUPROFILE=" + prof}, stdout, valise, args...)
	if err != nil {
		return nil, s, err
	}
	c, err := profileShare(prof)
	if err != nil {
		return nil, s, err
	}
	fmt.Fprintf(logFile, "  authorship: %.2f s of %.2f s CPU sampled (%.1f%%); outermost authorship frames: %s\n",
		c.author.Seconds(), c.total.Seconds(), 100*c.share(), strings.Join(c.top, ", "))
	say("%s: authorship %.1f%% of %.2f s CPU sampled", name, 100*c.share(), c.total.Seconds())
	return c, s, nil
}

// payloadSplit is what a bundle's payload holds, in decompressed bytes
// (each line with its newline), and the compressed estimates.
type payloadSplit struct {
	bundle           int64 // the bundle file
	payload          int64 // the age payload in the file
	manifest         int64 // inner manifest, tree-secret line included
	secret           int64 // its tree-secret line
	records          int64 // record lines
	proofs           int64 // proof lines
	proofLines       int64 // how many
	trees            int64 // tree section: tree and node lines
	treeLines        int64 // tree lines
	nodeLines        int64 // node lines
	zAll, zNoProof   int64 // the whole content compressed, and without proof lines, tree section and tree-secret line
	zProofAlone      int64 // proof lines, tree section and tree-secret line compressed alone
	decompressedSize int64
}

// authorBytes is the authorship part of the decompressed payload.
func (s *payloadSplit) authorBytes() int64 { return s.proofs + s.trees + s.secret }

// marginal is the estimated share of authorship in the bundle: what the
// proofs add to the compressed payload, over the bundle's size.
func (s *payloadSplit) marginal() float64 {
	return float64(s.zAll-s.zNoProof) / float64(s.bundle)
}

// alone is the other estimate: the proofs compressed on their own, over
// the bundle's size.
func (s *payloadSplit) alone() float64 { return float64(s.zProofAlone) / float64(s.bundle) }

// splitBundle decrypts bundle with the identity file of a recipient's home
// and splits its payload (FORMAT.md §3).
func splitBundle(dir, bundlePath, card, identity string) (*payloadSplit, error) {
	var out bytes.Buffer
	if _, err := v(dir, &out, "verify", "--json", "--card", card, bundlePath); err != nil {
		return nil, err
	}
	var doc struct {
		Files []struct {
			PayloadOffset int64 `json:"payload_offset"`
			PayloadLength int64 `json:"payload_length"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Files) != 1 {
		return nil, fmt.Errorf("reading verify --json output (%v): %s", err, out.Bytes())
	}
	idf, err := os.Open(identity)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(idf)
	idf.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", identity, err)
	}
	f, err := os.Open(bundlePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &payloadSplit{bundle: fileSize(bundlePath), payload: doc.Files[0].PayloadLength}
	plain, err := age.Decrypt(io.NewSectionReader(f, doc.Files[0].PayloadOffset, doc.Files[0].PayloadLength), ids...)
	if err != nil {
		return nil, fmt.Errorf("decrypting the payload of %s: %w", bundlePath, err)
	}
	zr, err := zstd.NewReader(plain, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	// The writer's settings (bundle/writer.go).
	enc := func(w io.Writer) (*zstd.Encoder, error) {
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(4<<20))
	}
	var cAll, cNo, cAlone countWriter
	zAll, err := enc(&cAll)
	if err != nil {
		return nil, err
	}
	zNo, _ := enc(&cNo)
	zAlone, _ := enc(&cAlone)
	br := bufio.NewReaderSize(zr, 1<<20)
	inManifest, inTrees := true, false
	var first []byte // the first proof line, for the log
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A record line longer than the buffer: gather it whole.
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		if len(line) > 0 {
			n := int64(len(line))
			s.decompressedSize += n
			zAll.Write(line)
			author := false
			switch {
			case inManifest:
				s.manifest += n
				if bytes.HasPrefix(line, []byte("tree-secret: ")) {
					s.secret += n
					author = true
				}
				if string(line) == "---\n" {
					inManifest = false
				}
			case bytes.HasPrefix(line, []byte("tree ")):
				inTrees = true
				s.trees += n
				s.treeLines++
				author = true
			case bytes.HasPrefix(line, []byte("node ")):
				inTrees = true
				s.trees += n
				s.nodeLines++
				author = true
			case inTrees:
				return nil, fmt.Errorf("%s: a line after the tree section that is no tree line", bundlePath)
			case bytes.HasPrefix(line, []byte("proof ")):
				s.proofs += n
				s.proofLines++
				if first == nil {
					first = bytes.TrimSuffix(bytes.Clone(line), []byte("\n"))
				}
				author = true
			default:
				s.records += n
			}
			if author {
				zAlone.Write(line)
			} else {
				zNo.Write(line)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the payload of %s: %w", bundlePath, err)
		}
	}
	for _, z := range []*zstd.Encoder{zAll, zNo, zAlone} {
		if err := z.Close(); err != nil {
			return nil, err
		}
	}
	s.zAll, s.zNoProof, s.zProofAlone = cAll.n, cNo.n, cAlone.n
	if len(first) > 0 {
		fmt.Fprintf(logFile, "  first proof line of %s (%d bytes): %s\n", filepath.Base(bundlePath), len(first), first)
	}
	fmt.Fprintf(logFile, "  payload of %s: %d bytes decompressed: manifest %d (tree-secret line %d), records %d, %d proof lines %d, tree section %d (%d tree, %d node lines); "+
		"recompressed: whole %d, without authorship %d, authorship alone %d; bundle %d, age payload %d\n",
		filepath.Base(bundlePath), s.decompressedSize, s.manifest, s.secret, s.records, s.proofLines, s.proofs, s.trees, s.treeLines, s.nodeLines,
		s.zAll, s.zNoProof, s.zProofAlone, s.bundle, s.payload)
	return s, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
