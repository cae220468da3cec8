// Checks an iot-ledger proof bundle with Go's golang.org/x/mod/sumdb/note and
// sumdb/tlog, as an outside verifier would: the signed note, the C2SP checkpoint
// lines (origin, size, root, extension lines) and the RFC 6962 inclusion proof.
// Usage: go run checkpoint.go VERIFIER_KEY < bundle.json; prints what it read as JSON.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type bundle struct {
	Index      int64    `json:"index"`
	Record     string   `json:"record"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}

type result struct {
	Origin     string   `json:"origin"`
	Size       int64    `json:"size"`
	Root       string   `json:"root"`
	Extensions []string `json:"extensions"`
	Signers    []string `json:"signers"`
	Included   bool     `json:"included"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: checkpoint VERIFIER_KEY < bundle.json")
	}
	v, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fail("verifier key: %v", err)
	}
	var b bundle
	if err := json.NewDecoder(os.Stdin).Decode(&b); err != nil {
		fail("bundle: %v", err)
	}
	n, err := note.Open([]byte(b.Checkpoint), note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	// C2SP tlog-checkpoint: origin, size, base64 root, then optional extension lines.
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail("checkpoint has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q", lines[1])
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	out := result{Origin: lines[0], Size: size, Root: lines[2], Extensions: lines[3:]}
	for _, s := range n.Sigs {
		out.Signers = append(out.Signers, s.Name)
	}
	record, err := base64.StdEncoding.DecodeString(b.Record)
	if err != nil {
		fail("record: %v", err)
	}
	proof := make(tlog.RecordProof, len(b.Proof))
	for i, p := range b.Proof {
		h, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(h) != tlog.HashSize {
			fail("proof hash %d", i)
		}
		copy(proof[i][:], h)
	}
	if err := tlog.CheckRecord(proof, size, root, b.Index, tlog.RecordHash(record)); err != nil {
		fail("tlog.CheckRecord: %v", err)
	}
	out.Included = true
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}
