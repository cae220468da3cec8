// Prints the tile hashes Go's golang.org/x/mod/sumdb/tlog computes (tile height 8) for the
// entries on stdin (each a big-endian uint32 length and the bytes): "root <hex>", then one
// line per tile: "<L> <N> <W> <sha256 of the tile data>". Used by test/tiles/go-vector.txt.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

type memory []tlog.Hash

func (m memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m[x]
	}
	return out, nil
}

func main() {
	in := bufio.NewReader(os.Stdin)
	var stored memory
	var n int64
	for {
		var l [4]byte
		if _, err := io.ReadFull(in, l[:]); err != nil {
			break
		}
		data := make([]byte, binary.BigEndian.Uint32(l[:]))
		if _, err := io.ReadFull(in, data); err != nil {
			panic(err)
		}
		hashes, err := tlog.StoredHashes(n, data, stored)
		if err != nil {
			panic(err)
		}
		stored = append(stored, hashes...)
		n++
	}
	root, err := tlog.TreeHash(n, stored)
	if err != nil {
		panic(err)
	}
	fmt.Printf("root %s\n", hex.EncodeToString(root[:]))
	for _, t := range tlog.NewTiles(8, 0, n) {
		data, err := tlog.ReadTileData(t, stored)
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(data)
		fmt.Printf("%d %d %d %s\n", t.L, t.N, t.W, hex.EncodeToString(sum[:]))
	}
}
