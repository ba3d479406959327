package engine

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/sortie-sec/sortie/internal/signing"
)

// Chunks are signed by their submitter over the exact bytes of the work
// message, and the signature travels in NATS headers:
//
//	Sortie-Signer:    sortie-ed25519:<base64>   the submitter's public key
//	Sortie-Signature: <base64>                  ed25519 over chunkDomain, 0, body
//
// The body is the planned chunk's JSON as the submitter wrote it: what is
// verified is byte for byte what is decoded, so no canonical encoding is
// needed and every field of the chunk (run, task, id, index, of, pool,
// tool, step, targets, options, limits) is covered.
//
// A continuation (eviction policy requeue-remainder) is published by a
// worker, which holds no submitter key. It carries its planned chunk's body
// and signature unchanged, and says which of the planned targets remain:
//
//	Sortie-Continuation: 7r1                    its id: the planned id, then r<attempt> per hop
//	Sortie-Remaining:    <base64 bitmap>        bit i set: planned target i still to run
//
// The verifier checks the original signature and narrows the targets, so a
// worker can requeue only a subset of signed work, never invent work.
const (
	headerSigner       = "Sortie-Signer"
	headerSignature    = "Sortie-Signature"
	headerContinuation = "Sortie-Continuation"
	headerRemaining    = "Sortie-Remaining"

	// chunkDomain separates chunk signatures from any other use of a key.
	chunkDomain = "sortie-chunk-v1"
)

// Errors of Verify that callers branch on (with signing.ErrUntrusted and
// signing.ErrBadSignature).
var (
	// ErrUnsigned: the message carries no signature.
	ErrUnsigned = errors.New("unsigned chunk")
	// ErrBadContinuation: a continuation names targets or an id that its
	// signed chunk does not allow.
	ErrBadContinuation = errors.New("bad continuation")
	// ErrMisrouted: a signed chunk arrived on another pool's queue.
	ErrMisrouted = errors.New("misrouted chunk")
)

// signed is what a chunk keeps of its signed form, so that a worker can
// enqueue its continuation without re-signing.
type signed struct {
	body         []byte // the planned chunk's message body, as signed
	signer, sig  string
	plannedCount int   // number of targets of the planned chunk
	index        []int // position in the planned targets of each of Targets
}

// sign signs a planned chunk's body with key.
func (c *Chunk) sign(key *signing.Key, body []byte) {
	idx := make([]int, len(c.Targets))
	for i := range idx {
		idx[i] = i
	}
	c.sig = &signed{body: body, signer: key.Public().String(), sig: key.SignText(chunkDomain, body),
		plannedCount: len(c.Targets), index: idx}
}

// message is the chunk's work message: the signed body and its headers.
func (c *Chunk) message() (*nats.Msg, error) {
	if c.sig == nil {
		return nil, fmt.Errorf("engine: chunk %s is not signed", c.Key())
	}
	m := nats.NewMsg(workSubject(c.Pool))
	m.Data = c.sig.body
	m.Header.Set(headerSigner, c.sig.signer)
	m.Header.Set(headerSignature, c.sig.sig)
	if c.Parent != "" {
		m.Header.Set(headerContinuation, c.ID)
		m.Header.Set(headerRemaining, encodeRemaining(c.sig.plannedCount, c.sig.index))
	}
	return m, nil
}

// continuation is the chunk that carries on with remainder, a subsequence
// of c's targets (in order), under the given id.
func (c *Chunk) continuation(id string, remainder []string) (*Chunk, error) {
	if c.sig == nil {
		return nil, fmt.Errorf("engine: chunk %s has no signed form to continue", c.Key())
	}
	idx := make([]int, 0, len(remainder))
	j := 0
	for _, t := range remainder {
		for j < len(c.Targets) && c.Targets[j] != t {
			j++
		}
		if j == len(c.Targets) {
			return nil, fmt.Errorf("engine: the remainder of chunk %s is not a subset of its targets", c.Key())
		}
		idx = append(idx, c.sig.index[j])
		j++
	}
	n := *c
	s := *c.sig
	s.index = idx
	n.ID, n.Parent, n.Index, n.Targets, n.sig = id, c.ID, -1, remainder, &s
	return &n, nil
}

// Verify checks the delivery's signature against trust, before anything
// else is done with the chunk, and that the chunk was signed for the pool
// it arrived on. A continuation is narrowed to the targets it names. On
// error the chunk must not be run, claimed or settled: its names are the
// sender's claim only. A message signed by a trusted key that does not
// decode passes, with its DecodeErr left for the caller.
func (d *Delivery) Verify(trust *signing.Trust) error {
	h := d.msg.Headers()
	signer, sig := h.Get(headerSigner), h.Get(headerSignature)
	if signer == "" || sig == "" {
		return ErrUnsigned
	}
	key, err := signing.ParsePublicKey(signer)
	if err != nil {
		return fmt.Errorf("%w: %v", signing.ErrBadSignature, err)
	}
	if err := trust.Verify(key, chunkDomain, d.msg.Data(), sig); err != nil {
		return err
	}
	if d.DecodeErr != nil {
		return nil // signed by a trusted submitter, yet malformed: checked next
	}
	c, err := narrow(d.Chunk, d.msg.Data(), signer, sig, h.Get(headerContinuation), h.Get(headerRemaining))
	if err != nil {
		return err
	}
	if c.Pool != d.Pool {
		// A signed chunk copied onto another pool's queue: a replay, not
		// the chunk's own delivery, which must not be ended by it.
		return fmt.Errorf("%w: chunk for pool %q arrived on pool %q", ErrMisrouted, c.Pool, d.Pool)
	}
	d.Chunk = c
	return nil
}

// narrow turns a verified planned chunk into the chunk a delivery carries:
// itself, or the continuation its headers name.
func narrow(planned *Chunk, body []byte, signer, sig, contID, remaining string) (*Chunk, error) {
	if planned.Parent != "" || planned.Index < 0 {
		return nil, fmt.Errorf("%w: the signed chunk %s is not a planned chunk", ErrBadContinuation, planned.ID)
	}
	c := *planned
	c.sig = &signed{body: body, signer: signer, sig: sig, plannedCount: len(planned.Targets)}
	if contID == "" {
		if remaining != "" {
			return nil, fmt.Errorf("%w: remaining targets without a continuation id", ErrBadContinuation)
		}
		c.sig.index = make([]int, len(c.Targets))
		for i := range c.sig.index {
			c.sig.index[i] = i
		}
		return &c, nil
	}
	parent, ok := continuationParent(planned.ID, contID)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a continuation id of chunk %s", ErrBadContinuation, clip(contID), planned.ID)
	}
	idx, err := decodeRemaining(len(planned.Targets), remaining)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadContinuation, err)
	}
	c.Targets = make([]string, len(idx))
	for i, j := range idx {
		c.Targets[i] = planned.Targets[j]
	}
	c.ID, c.Parent, c.Index, c.sig.index = contID, parent, -1, idx
	return &c, nil
}

// continuationParent checks that id is planned followed by one or more
// "r<attempt>" and returns the id it continues (id without its last hop).
func continuationParent(planned, id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, planned)
	if !ok || rest == "" || !validToken(id) {
		return "", false
	}
	last := -1
	for i := 0; i < len(rest); {
		if rest[i] != 'r' {
			return "", false
		}
		j := i + 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == i+1 || rest[i+1] == '0' {
			return "", false // r needs an attempt number, 1 or more
		}
		last, i = i, j
	}
	return planned + rest[:last], true
}

// encodeRemaining is the bitmap of idx over n targets, in base64.
func encodeRemaining(n int, idx []int) string {
	b := make([]byte, (n+7)/8)
	for _, i := range idx {
		setBit(b, i)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decodeRemaining reads a bitmap of n targets: its length must fit n, no
// bit beyond n may be set and at least one must be.
func decodeRemaining(n int, s string) ([]int, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("remaining targets: not base64")
	}
	if len(b) != (n+7)/8 {
		return nil, fmt.Errorf("remaining targets: a bitmap of %d bytes for %d targets", len(b), n)
	}
	var idx []int
	for i := 0; i < len(b)*8; i++ {
		if !bitSet(b, i) {
			continue
		}
		if i >= n {
			return nil, fmt.Errorf("remaining targets: target %d of %d", i, n)
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("remaining targets: none")
	}
	return idx, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
