package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// userInfoSubject answers a client with its own user and permissions.
const userInfoSubject = "$SYS.REQ.USER.INFO"

// probePermissions asks the server what this connection may publish, so
// that a restricted role skips what it may not do instead of waiting for a
// reply that a permission violation never sends. When the server does not
// answer (events disabled, an old server), everything is assumed allowed.
func (e *Engine) probePermissions(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	msg, err := e.nc.RequestWithContext(ctx, userInfoSubject, nil)
	if err != nil {
		e.log.Debug("engine: no user info from the server; assuming every permission", "err", err)
		return
	}
	var resp struct {
		Data *server.UserInfo `json:"data"`
	}
	if json.Unmarshal(msg.Data, &resp) != nil || resp.Data == nil {
		return
	}
	e.noChunkWrites = !mayPublish(resp.Data.Permissions, "$KV."+ChunksBucket+".r.t.c")
}

// mayPublish applies NATS's rule: allowed when the allow list is empty or
// matches, and no deny entry matches.
func mayPublish(p *server.Permissions, subject string) bool {
	if p == nil || p.Publish == nil {
		return true
	}
	ok := len(p.Publish.Allow) == 0
	for _, f := range p.Publish.Allow {
		if server.SubjectMatchesFilter(subject, f) {
			ok = true
		}
	}
	for _, f := range p.Publish.Deny {
		if server.SubjectMatchesFilter(subject, f) {
			ok = false
		}
	}
	return ok
}
