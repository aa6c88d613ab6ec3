// Package audit exports an office's audit log for an auditor and checks
// such an export with the office's public card alone.
//
// The log itself lives in the store (store.Tx.Audit appends an entry
// whose hash chains it to the one before; store.Store.CheckAudit walks
// the chain). ExportAudit writes every entry and a signature, by the
// office's current signing key, over the whole; CheckAuditExport verifies
// that signature and the chain and returns the entries.
package audit
