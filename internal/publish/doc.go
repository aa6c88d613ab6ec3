// Package publish writes the files valise hands to people — bundles,
// volumes, exports, cards, reports — so that they work on every file
// system a courier's stick or an officer's laptop has (FAT32, exFAT, NTFS,
// ext4, APFS) and on Linux, Windows and macOS:
//
//   - a file is created new and never replaces an existing one;
//   - nothing is ever visible under the final name half-written: a reader
//     sees either no file or the whole, synced file;
//   - it needs neither hard links nor chmod, which FAT does not have.
//
// # How a file is published
//
// Create makes a temporary file in the destination's own directory, named
// ".valise-XXXXXXXX.part", created exclusively with the requested mode
// (0600 for anything that holds record content; the mode is ignored where
// the file system has none). The caller writes to it; Publish syncs and
// closes it and then moves it to the final name with a rename that never
// replaces:
//
//   - Linux: renameat2(RENAME_NOREPLACE) (ext4, xfs, btrfs, tmpfs and the
//     kernel's vfat, exfat and ntfs3 drivers have it);
//   - macOS: renamex_np(RENAME_EXCL);
//   - Windows: MoveFileEx without MOVEFILE_REPLACE_EXISTING, which refuses
//     an existing target on FAT, exFAT and NTFS alike;
//   - elsewhere: link(2) and unlink(2).
//
// Some file systems have none of these: a FUSE server without rename2
// (fusefat, older ntfs-3g), or a Unix whose FAT driver has no hard links.
// There Publish first reserves the final name by creating it exclusively
// as an empty file (the placeholder), and then renames the temporary file
// over its own placeholder. A second publisher of the same name fails at
// the exclusive create, so nothing anyone else wrote is ever replaced. For
// the instant between the two steps the final name holds an empty file:
// never a partial one. Every reader in valise refuses an empty file as
// malformed, and Cleanup removes a placeholder left by a killed run.
//
// # Leftovers and the journal
//
// A run that is killed leaves a temporary file beside the destination.
// When the caller gives a work directory (an office's home), Create keeps
// there a small journal entry naming the temporary file and the final
// name, locked (flock; LockFileEx on Windows) for as long as the File
// lives, and synced before each step that changes the destination.
// Cleanup takes the entries no live process holds, removes their
// temporary files and placeholders, and reports what each run had reached:
// not published, published (the caller's own bookkeeping after the
// rename did not finish) or unknown (the destination is gone, say the
// stick was pulled). A caller that gives a note with Create gets it back
// there: valise pack notes the sequence numbers of the bundle, so that an
// interrupted pack never leaves a published bundle unrecorded and never
// uses up a number for a bundle that was never published.
package publish
