package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sortie-sec/sortie/internal/signing"
)

// keysOptions are the flags of `sortie keys`.
type keysOptions struct {
	// SigningKey is the submitter's private key file. Defaults to
	// $XDG_CONFIG_HOME/sortie/signing.key, created on first use.
	SigningKey string
}

func newKeysCommand(g *globalOptions) *cobra.Command {
	opts := &keysOptions{}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show or make the key that signs the work you submit",
		Long: `Workers run only chunks signed by a submitter they trust. "sortie x --server"
signs with your key (--signing-key, default $XDG_CONFIG_HOME/sortie/signing.key,
created on first use); a worker trusts the public keys in its --trust files.

To let workers run your work, print your public key with "sortie keys show"
and add that line to a trust file the workers read (sortie worker --trust FILE).`,
		Args: cobra.NoArgs,
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print your public key (making the key pair if there is none)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeysShow(g, opts)
		},
	}
	signingKeyFlag(show, &opts.SigningKey)
	newKey := &cobra.Command{
		Use:   "new FILE",
		Short: "Make a new signing key in FILE (mode 0600) and print its public key",
		Args:  exactArgs(1, "name the new key's file: sortie keys new FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeysNew(g, args[0])
		},
	}
	cmd.AddCommand(show, newKey)
	return cmd
}

// signingKeyFlag adds --signing-key to a command that signs.
func signingKeyFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "signing-key", "", "private key `FILE` that signs the work submitted to --server (default $XDG_CONFIG_HOME/sortie/signing.key, created on first use)")
}

func runKeysShow(g *globalOptions, opts *keysOptions) error {
	path := opts.SigningKey
	k, created, err := loadSigningKey(path)
	if err != nil {
		return err
	}
	if created && !g.Quiet {
		fmt.Fprintf(g.stderr, "sortie: made a new signing key in %s\n", signingKeyPath(path))
	}
	fmt.Fprintln(g.stdout, k.Public())
	return nil
}

func runKeysNew(g *globalOptions, path string) error {
	k, err := signing.Generate()
	if err != nil {
		return err
	}
	if err := signing.SaveKey(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usageError{withHint(fmt.Errorf("%s already exists", path), "a key is never overwritten: choose a new file name")}
		}
		return fmt.Errorf("new signing key: %w", err)
	}
	fmt.Fprintln(g.stdout, k.Public())
	return nil
}

// signingKeyPath is the signing key file: path, or the default.
func signingKeyPath(path string) string {
	if path != "" {
		return path
	}
	if c := configDir(); c != "" {
		return filepath.Join(c, "signing.key")
	}
	return ""
}

// loadSigningKey loads the submitter's key (path, or the default one),
// creating it if it is absent.
func loadSigningKey(path string) (*signing.Key, bool, error) {
	p := signingKeyPath(path)
	if p == "" {
		return nil, false, usageError{withHint(errors.New("no signing key: no config directory"), "give --signing-key FILE (or SORTIE_SIGNING_KEY)")}
	}
	k, created, err := signing.LoadOrCreateKey(p)
	if err != nil {
		return nil, false, keyError(err, p)
	}
	return k, created, nil
}

// keyError adds the hint that fixes a bad key file.
func keyError(err error, path string) error {
	var me *signing.ModeError
	if errors.As(err, &me) {
		return withHint(fmt.Errorf("signing key %w", err), fmt.Sprintf("chmod 600 %s (and make a new key if others may have read it)", path))
	}
	return withHint(fmt.Errorf("signing key: %w", err), "make a new one with \"sortie keys new FILE\" and pass --signing-key FILE")
}

// workerTrust is the set of submitters a worker trusts: the keys of its
// --trust files; with none, and only when every server URL is on
// loopback, the local default key (made if absent, so the worker and the
// submitter can start in either order). Off loopback a worker without
// trust refuses to start.
func workerTrust(files []string, server string, log *slog.Logger) (*signing.Trust, error) {
	if len(files) > 0 {
		t, err := signing.LoadTrust(files...)
		if err != nil {
			return nil, usageError{withHint(err, "a trust file lists submitters' public keys (\"sortie keys show\" prints one), one per line, writable only by its owner")}
		}
		return t, nil
	}
	if !loopbackServer(server) {
		return nil, usageError{withHint(
			fmt.Errorf("no trusted submitters: a worker of a server off loopback (%s) runs only work signed by keys given with --trust", server),
			"on each submitter's machine run \"sortie keys show\"; put the printed lines in a file and start the worker with --trust FILE (or SORTIE_TRUST, or trust: in the config file)")}
	}
	k, created, err := loadSigningKey("")
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("made the local signing key", "path", signingKeyPath(""))
	}
	log.Info("trusting the local signing key (loopback server, no --trust)", "key", k.Public().String())
	return signing.NewTrust(k.Public()), nil
}

// loopbackServer reports whether every URL of a server list is on
// loopback (127.0.0.0/8, ::1 or localhost).
func loopbackServer(server string) bool {
	if strings.TrimSpace(server) == "" {
		return false
	}
	for _, s := range strings.Split(server, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return false
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); !(h == "localhost" || ip != nil && ip.IsLoopback()) {
			return false
		}
	}
	return true
}
