package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"valise/office"

	"valise/crypto"
	"valise/internal/publish"
	"valise/store"
)

// ErrAuditBroken reports an audit log whose hash chain or signature fails.
var ErrAuditBroken = errors.New("audit log broken")

const (
	auditMagic   = "valise-audit/v1"
	auditContext = "valise-audit-signature/v1\x00"
	// MaxAuditExport bounds an exported audit log read back by an auditor.
	MaxAuditExport = 1 << 30
)

type auditLine struct {
	N      int64  `json:"n"`
	At     string `json:"at"`
	Action string `json:"action"`
	Detail string `json:"detail"`
	Prev   string `json:"prev"`
	Hash   string `json:"hash"`
}

// ExportAudit writes the audit log, signed by this office's current key,
// to path (never overwriting a file): an auditor checks it with the
// office's card alone (CheckAuditExport).
//
//	valise-audit/v1
//	agency: KZ-NCB
//	key: <card fingerprint>
//	exported: 2026-11-28T09:23:01Z
//	entries: 42
//	{"n":1,"at":…,"action":…,"detail":…,"prev":…,"hash":…}   one line per entry
//	signature: <base64 Ed25519 over "valise-audit-signature/v1\x00" and every line above>
func ExportAudit(o *office.Office, path string) (int, error) {
	entries, broken, err := o.Store.CheckAudit()
	if err != nil {
		return 0, err
	}
	if broken != 0 {
		return 0, fmt.Errorf("%w at entry %d: not exporting a broken log", ErrAuditBroken, broken)
	}
	keys, err := o.Keys()
	if err != nil {
		return 0, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nagency: %s\nkey: %s\nexported: %s\nentries: %d\n", auditMagic, o.Agency(), o.Card.Fingerprint(),
		o.Now().UTC().Format(time.RFC3339), len(entries))
	for _, e := range entries {
		line, _ := json.Marshal(auditLine{e.N, e.At, e.Action, e.Detail, e.Prev, e.Hash})
		b.Write(line)
		b.WriteByte('\n')
	}
	sig := ed25519.Sign(keys.Signing, append([]byte(auditContext), b.Bytes()...))
	fmt.Fprintf(&b, "signature: %s\n", base64.StdEncoding.EncodeToString(sig))
	if err := publish.WriteFile(path, b.Bytes(), publish.Options{Mode: 0o644, WorkDir: o.Home}); err != nil {
		return 0, err
	}
	if err := o.Store.Audit("audit export", fmt.Sprintf("%d entries to %s", len(entries), path)); err != nil {
		return 0, err
	}
	return len(entries), nil
}

// CheckAuditExport verifies an exported audit log with the office's card:
// signature, then the hash chain. It returns the entries.
func CheckAuditExport(data []byte, card *crypto.Card) ([]store.AuditEntry, error) {
	i := bytes.LastIndex(data, []byte("\nsignature: "))
	if !bytes.HasPrefix(data, []byte(auditMagic+"\n")) || i < 0 || !bytes.HasSuffix(data, []byte("\n")) {
		return nil, fmt.Errorf("%w: not a valise audit export", ErrAuditBroken)
	}
	body, sigLine := data[:i+1], strings.TrimSuffix(string(data[i+len("\nsignature: "):]), "\n")
	sig, err := base64.StdEncoding.Strict().DecodeString(sigLine)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: malformed signature", ErrAuditBroken)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	if len(lines) < 5 || lines[1] != "agency: "+card.Agency || lines[2] != "key: "+card.Fingerprint() {
		return nil, fmt.Errorf("%w: the export is not by %s key %s", ErrAuditBroken, card.Agency, card.Fingerprint())
	}
	if !ed25519.Verify(card.SigningKey, append([]byte(auditContext), body...), sig) {
		return nil, fmt.Errorf("%w: signature does not match %s key %s", ErrAuditBroken, card.Agency, card.Fingerprint())
	}
	n, err := strconv.Atoi(strings.TrimPrefix(lines[4], "entries: "))
	if err != nil || n != len(lines)-5 {
		return nil, fmt.Errorf("%w: entry count does not match", ErrAuditBroken)
	}
	var out []store.AuditEntry
	prev := strings.Repeat("0", 64)
	for k, l := range lines[5:] {
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			return nil, fmt.Errorf("%w: entry %d is malformed", ErrAuditBroken, k+1)
		}
		if a.N != int64(k+1) || a.Prev != prev || store.AuditHash(a.Prev, a.N, a.At, a.Action, a.Detail) != a.Hash {
			return out, fmt.Errorf("%w at entry %d", ErrAuditBroken, k+1)
		}
		prev = a.Hash
		out = append(out, store.AuditEntry{N: a.N, At: a.At, Action: a.Action, Detail: a.Detail, Prev: a.Prev, Hash: a.Hash})
	}
	return out, nil
}
