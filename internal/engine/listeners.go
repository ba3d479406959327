package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// ListenerError is the refusal of a listener that anyone who can reach it
// could use without authenticating. It matches ErrNoAuth.
type ListenerError struct {
	// Listener names it as the flags and the NATS config do: "client",
	// "cluster", "gateway", "leafnode", "websocket", "mqtt", "monitor",
	// "profiler".
	Listener string
	// Addr is the address it would listen on.
	Addr string
	// Reason says what is missing.
	Reason string
	// Hint says how to fix it.
	Hint string
}

func (e *ListenerError) Error() string {
	return fmt.Sprintf("%s listener %s: %s", e.Listener, e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrNoAuth) true.
func (e *ListenerError) Unwrap() error { return ErrNoAuth }

// checkListeners refuses every listener other than a loopback client port
// that lacks authentication: the client port off loopback, cluster routes
// (on loopback too: a local rogue server must not join), gateways,
// leafnodes, websocket and MQTT, and the monitoring endpoint off loopback
// (NATS monitoring has no authentication at all). Accounts without users,
// or a no_auth_user, count as no authentication. It reports every refusal
// at once.
func checkListeners(o *server.Options) error {
	var errs []error
	refuse := func(listener, host string, port int, reason, hint string) {
		errs = append(errs, &ListenerError{Listener: listener, Addr: net.JoinHostPort(host, strconv.Itoa(port)), Reason: reason, Hint: hint})
	}
	clientAuth := clientAuthenticated(o)
	if !o.DontListen && !isLoopback(o.Host) && !clientAuth {
		refuse("client", o.Host, o.Port, "no authentication off loopback"+noAuthUserNote(o.NoAuthUser)+clientAuthNote(o),
			"set SORTIE_SERVER_TOKEN, --auth-dir DIR, --nkeys FILE, --tls-client-ca FILE or users in --nats-config, or listen on 127.0.0.1")
	}
	if o.Cluster.Port != 0 && !routesAuthenticated(o) {
		refuse("cluster", o.Cluster.Host, o.Cluster.Port, "routes without authentication (a rogue server could join and read the queue)",
			"give every member the same route password: --cluster-password-file FILE or SORTIE_CLUSTER_PASSWORD (--auth-dir DIR generates one), or cluster { authorization { user, password } } in --nats-config")
	}
	if o.Gateway.Port != 0 && !(o.Gateway.Username != "" && o.Gateway.Password != "") && !verifiesClientCerts(o.Gateway.TLSConfig) {
		refuse("gateway", o.Gateway.Host, o.Gateway.Port, "gateway connections without authentication",
			"set gateway { authorization { user, password } } or gateway TLS with verify: true in --nats-config")
	}
	if o.LeafNode.Port != 0 && !leafnodesAuthenticated(o, clientAuth) {
		refuse("leafnode", o.LeafNode.Host, o.LeafNode.Port, "leafnode connections without authentication",
			"set leafnodes { authorization { ... } } in --nats-config, or client authentication that leafnodes then use")
	}
	if o.Websocket.Port != 0 && !overrideAuthenticated(o, o.Websocket.Username, o.Websocket.Password, o.Websocket.Token, o.Websocket.NoAuthUser, o.Websocket.TLSConfig) {
		refuse("websocket", o.Websocket.Host, o.Websocket.Port, "websocket connections without authentication"+noAuthUserNote(o.Websocket.NoAuthUser+o.NoAuthUser),
			"set websocket { authorization { ... } } in --nats-config, or client authentication without no_auth_user")
	}
	if o.MQTT.Port != 0 && !overrideAuthenticated(o, o.MQTT.Username, o.MQTT.Password, o.MQTT.Token, o.MQTT.NoAuthUser, o.MQTT.TLSConfig) {
		refuse("mqtt", o.MQTT.Host, o.MQTT.Port, "MQTT connections without authentication"+noAuthUserNote(o.MQTT.NoAuthUser+o.NoAuthUser),
			"set mqtt { authorization { ... } } in --nats-config, or client authentication without no_auth_user")
	}
	// NATS binds the monitor to the client host when http_port comes
	// without one.
	httpHost := o.HTTPHost
	if httpHost == "" {
		httpHost = o.Host
	}
	if o.HTTPPort != 0 && !isLoopback(httpHost) {
		refuse("monitor", httpHost, o.HTTPPort, "NATS monitoring has no authentication and may not listen off loopback",
			"listen on 127.0.0.1 (--monitor 127.0.0.1:8222) and reach it through a port-forward or an authenticating proxy")
	}
	if o.HTTPSPort != 0 && !isLoopback(httpHost) {
		refuse("monitor", httpHost, o.HTTPSPort, "NATS monitoring has no authentication and may not listen off loopback",
			"listen on 127.0.0.1 and reach it through a port-forward or an authenticating proxy")
	}
	if o.ProfPort != 0 {
		// pprof has no authentication, and /debug/pprof/cmdline shows the
		// command line (secrets given as flags): not even on loopback,
		// where every local user reaches it.
		refuse("profiler", o.Host, o.ProfPort, "the NATS profiler (prof_port) has no authentication and shows the command line",
			"remove prof_port from --nats-config")
	}
	return errors.Join(errs...)
}

// clientAuthenticated reports whether every client connection must
// authenticate. Accounts alone are no authentication: without users,
// anyone lands in the global account; a no_auth_user lets anyone in as
// that user.
//
// A user without a password is no authentication either (anyone connects
// as that user with an empty password), unless verify_and_map maps it
// from a verified certificate. Certificate verification is none with
// allow_non_tls: a plaintext client skips it.
func clientAuthenticated(o *server.Options) bool {
	if o.NoAuthUser != "" {
		return false
	}
	certs := o.TLSVerify && !o.AllowNonTLS
	if o.Username != "" && o.Password == "" && !(certs && o.TLSMap) {
		return false
	}
	for _, u := range o.Users {
		if u.Password == "" && !(certs && o.TLSMap) {
			return false
		}
	}
	return o.Authorization != "" || o.Username != "" || len(o.Nkeys) > 0 || len(o.Users) > 0 ||
		len(o.TrustedOperators) > 0 || len(o.TrustedKeys) > 0 || certs || o.CustomClientAuthentication != nil
}

// leafnodesAuthenticated reports whether an incoming leafnode must
// authenticate: with its own authorization block (a user with a
// password, an nkey, users with passwords, or verified certificates),
// else with client authentication.
func leafnodesAuthenticated(o *server.Options, clientAuth bool) bool {
	l := &o.LeafNode
	certs := verifiesClientCerts(l.TLSConfig)
	if l.Username != "" && l.Password == "" && !(certs && l.TLSMap) {
		return false
	}
	for _, u := range l.Users {
		if u.Password == "" && !(certs && l.TLSMap) {
			return false
		}
	}
	if l.Username != "" || l.Nkey != "" || len(l.Users) > 0 {
		return true
	}
	return certs || clientAuth
}

// routesAuthenticated reports whether an incoming route must present
// credentials or a verified certificate.
func routesAuthenticated(o *server.Options) bool {
	return o.Cluster.Username != "" && o.Cluster.Password != "" || verifiesClientCerts(o.Cluster.TLSConfig)
}

// overrideAuthenticated applies to websocket and MQTT: their own
// authorization block wins, else client authentication applies, and their
// own no_auth_user (or the global one) lets anyone in.
// A user without a password authenticates nobody.
func overrideAuthenticated(o *server.Options, user, password, token, noAuthUser string, tc *tls.Config) bool {
	if noAuthUser != "" || user != "" && password == "" {
		return false
	}
	return user != "" || token != "" || verifiesClientCerts(tc) || clientAuthenticated(o)
}

func verifiesClientCerts(tc *tls.Config) bool {
	return tc != nil && tc.ClientAuth == tls.RequireAndVerifyClientCert
}

func noAuthUserNote(u string) string {
	if u == "" {
		return ""
	}
	return " (no_auth_user lets anyone in)"
}

func clientAuthNote(o *server.Options) string {
	switch {
	case o.TLSVerify && o.AllowNonTLS:
		return " (allow_non_tls lets plaintext clients in without a certificate)"
	case o.Username != "" && o.Password == "":
		return " (a user without a password)"
	}
	for _, u := range o.Users {
		if u.Password == "" {
			return fmt.Sprintf(" (user %q has no password)", u.Username)
		}
	}
	return ""
}
