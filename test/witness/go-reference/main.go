// A reference check against golang.org/x/mod/sumdb/note (not run by npm test; needs Go).
// It opens a note cosigned by this pack with note.Open, using the gateway vkey and a
// cosignature/v1 verifier written from the C2SP tlog-cosignature text:
//   GOPATH=/usr/share/gocode GO111MODULE=off go build -o gocheck . && ./gocheck GATEWAY_VKEY WITNESS_VKEY NOTE_FILE
// Run on 2026-12-05: a cosigned checkpoint (gateway + witness + an unknown cosigner) gave
// "OK verified=2 unverified=1"; one flipped cosignature byte gave "invalid signature for key".
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// A cosignature/v1 verifier written from the C2SP text, plugged into Go's note.Open.
type cosigV struct {
	name string
	pub  ed25519.PublicKey
	hash uint32
}

func (v cosigV) Name() string    { return v.name }
func (v cosigV) KeyHash() uint32 { return v.hash }
func (v cosigV) Verify(msg, sig []byte) bool {
	if len(sig) != 72 {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	m := append([]byte("cosignature/v1\ntime "+strconv.FormatUint(t, 10)+"\n"), msg...)
	return ed25519.Verify(v.pub, m, sig[8:])
}

func main() {
	gwV, err := note.NewVerifier(os.Args[1])
	if err != nil {
		panic(err)
	}
	parts := strings.SplitN(os.Args[2], "+", 3)
	raw, _ := base64.StdEncoding.DecodeString(parts[2])
	h := sha256.Sum256(append(append([]byte(parts[0]), '\n', 4), raw[1:]...))
	w := cosigV{parts[0], ed25519.PublicKey(raw[1:]), binary.BigEndian.Uint32(h[:4])}
	if fmt.Sprintf("%08x", w.hash) != parts[1] {
		panic("key id mismatch " + parts[1])
	}
	msg, _ := os.ReadFile(os.Args[3])
	n, err := note.Open(msg, note.VerifierList(gwV, w))
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	fmt.Printf("OK verified=%d unverified=%d\n", len(n.Sigs), len(n.UnverifiedSigs))
}
