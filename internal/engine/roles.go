package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// Role is an identity on the broker, with least-privilege permissions.
type Role string

// The three roles. An operator may do everything; the others only what
// their part of a run needs (docs/security.md, "Roles on the broker").
const (
	// RoleOperator sets up streams and buckets, purges, administers the
	// server: no restriction.
	RoleOperator Role = "operator"
	// RoleSubmitter creates runs and tasks, publishes work, requests
	// cancels, and reads runs, findings, events and dead letters.
	RoleSubmitter Role = "submitter"
	// RoleWorker consumes its pool's work and acknowledges it, writes
	// findings, events and dead letters, updates chunk, task and run
	// records and its heartbeat, and republishes continuations.
	RoleWorker Role = "worker"
)

// Roles lists the roles in the order they are documented.
var Roles = []Role{RoleOperator, RoleSubmitter, RoleWorker}

// InboxPrefix is the reply-inbox prefix of a client that authenticates
// with the nkey pub. Each role may only subscribe to its own inboxes: with
// the shared "_INBOX.>" any client could read the replies sent to others,
// work fetched by workers included.
func InboxPrefix(pub string) string { return "_INBOX_" + pub }

// streams sortie reads through JetStream consumers and direct gets.
var (
	kvRuns    = "KV_" + RunsBucket
	kvTasks   = "KV_" + TasksBucket
	kvChunks  = "KV_" + ChunksBucket
	kvWorkers = "KV_" + WorkersBucket
	kvCancel  = "KV_" + CancelBucket
)

// readStream is what reading a stream takes: its info, message and direct
// gets, and ordered consumers (created, fetched from, read, deleted).
func readStream(s string) []string {
	return []string{
		"$JS.API.STREAM.INFO." + s,
		"$JS.API.STREAM.MSG.GET." + s,
		"$JS.API.DIRECT.GET." + s,
		"$JS.API.DIRECT.GET." + s + ".>",
		"$JS.API.CONSUMER.CREATE." + s,
		"$JS.API.CONSUMER.CREATE." + s + ".>",
		"$JS.API.CONSUMER.INFO." + s + ".*",
		"$JS.API.CONSUMER.DELETE." + s + ".*",
		"$JS.API.CONSUMER.MSG.NEXT." + s + ".*",
		"$JS.FC." + s + ".>",
	}
}

// kvWrite is what writing a bucket's keys takes. A put and a delete are
// the same publish (a header tells them apart): subject permissions
// cannot allow one without the other.
func kvWrite(bucket string) string { return "$KV." + bucket + ".>" }

// RolePermissions are the NATS permissions of role for the user whose
// public nkey is pub; nil for the operator (no restriction). What each
// role does, by engine call:
//
//   - both: Open's setup reads every stream's and bucket's info (it creates
//     none when they exist); Run, Runs, Tasks, Chunks, Workers, Cancelled
//     read buckets (direct gets, watches); the events stream is written.
//   - both: Open asks the server for its own permissions ($SYS.REQ.USER.INFO).
//   - submitter: Submit writes run and task records and publishes work;
//     CancelRun writes the run record and the cancel flag (the workers
//     settle the chunks, finding the flag raised); Follow*,
//     ReadFindings and DeadLetters read streams; Queues lists the pools'
//     consumers.
//   - worker: Queue creates or updates its pool's durable consumer, Next
//     fetches from it, a Delivery acks, naks or terms; findings, events
//     and dead letters are published; chunk, task, run and heartbeat
//     records are written; continuations are published as work (chunks
//     are signed by a submitter key and verified by the worker, so a
//     worker cannot invent work).
//
// Neither can create, delete or purge a stream or a bucket, delete the
// work consumer, or reach another account.
func RolePermissions(role Role, pub string) *server.Permissions {
	var pubs []string
	common := []string{"$JS.API.INFO", "$JS.API.STREAM.INFO." + WorkStream, userInfoSubject}
	for _, s := range []string{FindingsStream, EventsStream, DeadStream, kvRuns, kvTasks, kvChunks, kvWorkers, kvCancel} {
		common = append(common, readStream(s)...)
	}
	switch role {
	case RoleOperator:
		return nil
	case RoleSubmitter:
		pubs = append(common,
			"$JS.API.CONSUMER.LIST."+WorkStream,
			"$JS.API.CONSUMER.NAMES."+WorkStream,
			"sortie.work.*",
			"sortie.events.*",
			kvWrite(RunsBucket), kvWrite(TasksBucket), kvWrite(CancelBucket),
		)
	case RoleWorker:
		pubs = append(common,
			// Only consumers filtered on one work subject, in the form
			// nats.go's jetstream creates them: the server pins the
			// filter to the subject's. No legacy DURABLE.CREATE, which
			// takes any filter in its body. Subject wildcards match
			// whole tokens only, so the name is free and not tied to the
			// filter: a worker key may still create or update any work
			// consumer's config (docs/security.md, "Roles on the broker").
			"$JS.API.CONSUMER.CREATE."+WorkStream+".*.sortie.work.*",
			"$JS.API.CONSUMER.INFO."+WorkStream+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+WorkStream+".*",
			"$JS.ACK."+WorkStream+".>",
			"sortie.work.*",
			"sortie.findings.*.*",
			"sortie.events.*",
			"sortie.dead.*.*",
			kvWrite(RunsBucket), kvWrite(TasksBucket), kvWrite(ChunksBucket), kvWrite(WorkersBucket),
		)
	default:
		panic("engine: unknown role " + string(role))
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pubs},
		Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(pub) + ".>"}},
	}
}

// RolesConfig renders a stock NATS server configuration block that gives
// the users keys[role] the permissions of their role: the same as
// "sortie server --auth-dir". deploy/nats/roles.conf is its output with
// placeholders for the keys.
func RolesConfig(keys map[Role]string) string {
	var b strings.Builder
	b.WriteString("# sortie roles: operator, submitter, worker (docs/security.md, \"Roles on the broker\").\n")
	b.WriteString("# Include this file in the server's configuration (include ./roles.conf).\n")
	b.WriteString("authorization {\n  users = [\n")
	for _, r := range Roles {
		fmt.Fprintf(&b, "    # %s\n    {\n      nkey: %s\n", r, keys[r])
		if p := RolePermissions(r, keys[r]); p != nil {
			b.WriteString("      permissions: {\n")
			writeList(&b, "publish", p.Publish.Allow)
			writeList(&b, "subscribe", p.Subscribe.Allow)
			b.WriteString("      }\n")
		}
		b.WriteString("    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func writeList(b *strings.Builder, name string, subjects []string) {
	s := append([]string(nil), subjects...)
	sort.Strings(s)
	fmt.Fprintf(b, "        %s: {\n          allow: [\n", name)
	for _, x := range s {
		fmt.Fprintf(b, "            %q\n", x)
	}
	b.WriteString("          ]\n        }\n")
}
