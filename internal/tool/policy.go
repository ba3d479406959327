package tool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/sortie-sec/sortie/internal/target"
)

// Policy is what a worker of a fleet accepts in a chunk, beyond the checks
// every run makes (kinds, allow-lists): a chunk comes from whoever could
// submit to the broker, and it runs on the worker's machine with the
// worker's files. A local run has no policy: the user is on their own
// machine.
//
//   - Options that name local files (Option.Path), and path targets, must
//     resolve, symlinks followed, inside the directories the operator allows.
//     With none allowed, every such option is refused.
//   - Any other string value that names an existing file (not a directory)
//     outside those directories is refused, as is a ".." element in it:
//     many tools read a file when a value names one (httpx -path, -H, dnsx
//     -r). Options declared NotFile are exempt.
//   - nmap's NSE scripts are chosen by name from the installed set, by
//     category, or by nmap's boolean expressions over them; script
//     arguments whose name says they read or write files are refused.
type Policy struct {
	// allowDirs are the allowed directories, absolute and resolved.
	allowDirs []string
	// ScriptDirs are the directories of nmap's installed NSE scripts
	// (*.nse). Defaults to "share/nmap/scripts" next to the nmap binary
	// Locate finds, /usr/local/share/nmap/scripts and
	// /usr/share/nmap/scripts.
	ScriptDirs []string
	// Locate finds a tool's binary, to find nmap's scripts next to it.
	// Defaults to none (only the system directories).
	Locate func(*Definition) (string, error)
}

// NewPolicy returns a worker policy that allows files inside dirs, each an
// existing directory given as an absolute path (symlinks are resolved here,
// once).
func NewPolicy(dirs []string) (*Policy, error) {
	p := &Policy{}
	var errs []error
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			errs = append(errs, fmt.Errorf("allowed directory %q: not an absolute path", d))
			continue
		}
		r, err := filepath.EvalSymlinks(d)
		if errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("allowed directory %q does not exist", d))
			continue
		} else if err != nil {
			errs = append(errs, fmt.Errorf("allowed directory %q: %w", d, err))
			continue
		}
		if fi, err := os.Stat(r); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("allowed directory %q: not a directory", d))
			continue
		}
		if r == "/" {
			errs = append(errs, fmt.Errorf("allowed directory %q: the root allows every file", d))
			continue
		}
		p.allowDirs = append(p.allowDirs, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// AllowDirs returns the allowed directories, resolved.
func (p *Policy) AllowDirs() []string { return slices.Clone(p.allowDirs) }

// Check refuses a chunk's targets and options that the policy does not
// allow, with every reason at once.
func (p *Policy) Check(d *Definition, targets []string, options map[string][]string) error {
	var errs []error
	// A path target names a file whatever the tool: one that does not take
	// paths only gets it in a forged chunk.
	for _, t := range targets {
		if target.Detect(t) == target.Path {
			if err := p.checkPath(t); err != nil {
				errs = append(errs, fmt.Errorf("target %q: %w", t, err))
			}
		}
	}
	names := make([]string, 0, len(options))
	for name := range options {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o, ok := d.Option(name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s has no option %q", d.Name, name))
			continue
		}
		for _, v := range options[name] {
			err := p.checkValue(o, v)
			switch {
			case err == nil:
			case d.IsSensitive(name):
				// The reason quotes the value: a secret stays out of
				// dead letters and logs.
				errs = append(errs, fmt.Errorf("option %s: a value names a file on the worker outside its allowed directories, or holds \"..\" (not shown: the option is sensitive)", o.Name))
			default:
				errs = append(errs, fmt.Errorf("option %s: %w", o.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkValue applies the policy to one value of o.
func (p *Policy) checkValue(o Option, v string) error {
	switch {
	case o.Kind != KindString && o.Kind != KindList:
		return nil // numbers, booleans and durations name no file
	case o.Path:
		return p.checkPath(v)
	case o.fleet != nil:
		return o.fleet(p, v)
	case o.NotFile:
		return nil
	}
	return p.checkNotAFile(v)
}

// checkPath accepts an absolute path that resolves, symlinks followed,
// inside an allowed directory. A path that does not exist yet (a cache
// directory a tool creates) is resolved through its longest existing
// parent.
//
// Tools split some values: dirsearch and nuclei read comma-separated
// lists, ffuf reads "PATH:KEYWORD". Each part, and the part of each before
// a ":", must be inside too, so "/allowed/a.txt,/etc/passwd" is refused.
func (p *Policy) checkPath(v string) error {
	if len(p.allowDirs) == 0 {
		return errors.New("names a local file, and this worker allows none (its operator allows directories with --allow-dir)")
	}
	parts := []string{v}
	for _, s := range strings.Split(v, ",") {
		parts = append(parts, s)
		if before, _, ok := strings.Cut(s, ":"); ok {
			parts = append(parts, before)
		}
	}
	for _, s := range parts {
		if err := p.checkOnePath(s); err != nil {
			return err
		}
	}
	return nil
}

func (p *Policy) checkOnePath(v string) error {
	if !filepath.IsAbs(v) {
		return fmt.Errorf("%q: a file on a worker must be an absolute path", v)
	}
	if hasDotDot(v) {
		return fmt.Errorf("%q: \"..\" is not allowed in a path on a worker", v)
	}
	r, err := resolve(v)
	if err != nil {
		return fmt.Errorf("%q: %w", v, err)
	}
	if !p.inside(r) {
		return fmt.Errorf("%q is outside the worker's allowed directories (%s)", v, strings.Join(p.allowDirs, ", "))
	}
	return nil
}

// checkNotAFile refuses a value, or one of its comma-separated parts, that
// looks like a file on the worker and does not resolve inside the allowed
// directories, whether the file exists yet or not (a file created after
// the check would be read all the same), and a value with a ".." element.
// A part looks like a file (see looksLikeFile) when it starts with "/",
// "~" or "./", or is a relative path with a "/" and a file-like last
// element ("rv/fp.lua"). An absolute part whose first element does not
// exist on the worker ("/admin", "/api/v1/users.json") is taken for a URL
// path: only root could create that top-level directory.
func (p *Policy) checkNotAFile(v string) error {
	parts := []string{v}
	if strings.Contains(v, ",") {
		parts = append(parts, strings.Split(v, ",")...)
	}
	for _, s := range parts {
		s = strings.TrimSpace(s)
		if hasDotDot(s) {
			return fmt.Errorf("%q: \"..\" is not allowed on a worker (a tool may read it as a file)", s)
		}
		if err := p.checkFileLike(s); err != nil {
			return err
		}
	}
	return nil
}

// checkFileLike applies the rule of checkNotAFile to one part.
func (p *Policy) checkFileLike(s string) error {
	switch kind := looksLikeFile(s); kind {
	case "":
		return nil
	case "absolute":
	default:
		return fmt.Errorf("%q looks like a %s path to a file on the worker: a file on a worker must be an absolute path inside its allowed directories (a URL path is written from its root, as in \"/admin/login.php\")", s, kind)
	}
	clean := filepath.Clean(s)
	if clean == "/" {
		return nil // the root is a URL path; no tool reads it as lines
	}
	top := "/" + strings.SplitN(clean[1:], "/", 2)[0]
	if _, err := os.Lstat(top); errors.Is(err, fs.ErrNotExist) {
		return nil // a URL path: no such top-level entry on the worker
	}
	r, err := resolve(clean)
	if err != nil {
		return fmt.Errorf("%q names a file on the worker: %w", s, err)
	}
	if !p.inside(r) {
		return fmt.Errorf("%q names a file on the worker (%s exists there), outside its allowed directories (a tool may read or write it; refused whether the file exists yet or not)", s, top)
	}
	return nil
}

// fileLikeRE is a last path element that looks like a file name: a name
// with an extension ("fp.lua", "x.tar.gz") or a dot file (".bashrc").
var fileLikeRE = regexp.MustCompile(`^(?:[^\s/]*[A-Za-z0-9_-]\.[A-Za-z][A-Za-z0-9]{0,9}|\.[^\s/.][^\s/]*)$`)

// looksLikeFile says what kind of file path s looks like: "absolute",
// "home-relative" ("~", "~/x", "~user/x"), "relative" ("./x", or a path
// with a "/" and a file-like last element, not a URL), or "" for a value
// that does not look like a path.
func looksLikeFile(s string) string {
	switch {
	case strings.HasPrefix(s, "/"):
		return "absolute"
	case strings.HasPrefix(s, "~"):
		return "home-relative"
	case s == "." || strings.HasPrefix(s, "./"):
		return "relative"
	case strings.Contains(s, "://") || !strings.Contains(s, "/") || strings.ContainsFunc(s, unicode.IsSpace):
		return "" // a URL, a name, or text ("Referer: /a.php")
	}
	if fileLikeRE.MatchString(s[strings.LastIndexByte(s, '/')+1:]) {
		return "relative"
	}
	return ""
}

// inside reports whether the resolved path r is an allowed directory or
// under one.
func (p *Policy) inside(r string) bool {
	for _, d := range p.allowDirs {
		if r == d || strings.HasPrefix(r, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// hasDotDot reports whether a path has a ".." element.
func hasDotDot(v string) bool {
	return slices.Contains(strings.FieldsFunc(v, func(r rune) bool { return r == '/' || r == '\\' }), "..")
}

// resolve follows the symlinks of an absolute path; the part that does not
// exist is appended to its longest existing parent, resolved.
func resolve(v string) (string, error) {
	v = filepath.Clean(v)
	var rest []string
	for {
		r, err := filepath.EvalSymlinks(v)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(v)
		if parent == v {
			return "", err
		}
		rest = append([]string{filepath.Base(v)}, rest...)
		v = parent
	}
}

// nseCategories are nmap's script categories, and "all".
var nseCategories = []string{"all", "auth", "broadcast", "brute", "default", "discovery", "dos", "exploit",
	"external", "fuzzer", "intrusive", "malware", "safe", "version", "vuln"}

// nseWordRE is what a word of a script choice may be: a script name,
// category or operator, with "*" as nmap's wildcard.
var nseWordRE = regexp.MustCompile(`^[a-zA-Z0-9_*-]+$`)

// checkNSEScripts accepts nmap --script values made of installed script
// names (wildcards matching at least one), categories and nmap's boolean
// expressions over them ("default and not intrusive"). No path, file name
// or directory: nmap would load and run it.
func (p *Policy) checkNSEScripts(v string) error {
	if i := strings.IndexFunc(v, func(r rune) bool {
		return !(r == ',' || r == '(' || r == ')' || r == ' ' || r == '*' || r == '-' || r == '_' ||
			r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}); i >= 0 {
		return fmt.Errorf("%q: scripts are chosen by name on a worker (no paths or file names; %q is not allowed)", v, v[i:i+1])
	}
	var installed map[string]bool
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '(' || r == ')' || r == ' ' }) {
		lw := strings.ToLower(w)
		if lw == "and" || lw == "or" || lw == "not" || slices.Contains(nseCategories, lw) {
			continue
		}
		if !nseWordRE.MatchString(w) {
			return fmt.Errorf("%q is not a script name", w)
		}
		if installed == nil {
			var err error
			if installed, err = p.installedScripts(); err != nil {
				return err
			}
		}
		if strings.Contains(w, "*") {
			re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(lw), `\*`, ".*") + "$")
			if !slices.ContainsFunc(keys(installed), re.MatchString) {
				return fmt.Errorf("%q matches no installed script", w)
			}
			continue
		}
		if !installed[lw] {
			return fmt.Errorf("%q is not an installed NSE script or a category", w)
		}
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// installedScripts lists the NSE scripts installed with nmap, by name
// (lower case, without ".nse").
func (p *Policy) installedScripts() (map[string]bool, error) {
	dirs := p.ScriptDirs
	if len(dirs) == 0 {
		if p.Locate != nil {
			if bin, err := p.Locate(nmapTool()); err == nil {
				if r, err := filepath.EvalSymlinks(bin); err == nil {
					bin = r
				}
				dirs = append(dirs, filepath.Join(filepath.Dir(filepath.Dir(bin)), "share", "nmap", "scripts"))
			}
		}
		dirs = append(dirs, "/usr/local/share/nmap/scripts", "/usr/share/nmap/scripts")
	}
	names := map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".nse"); ok && !e.IsDir() {
				names[strings.ToLower(n)] = true
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no installed NSE scripts found (looked in %s)", strings.Join(dirs, ", "))
	}
	return names, nil
}

// nseArgKeyRE finds the keys of nmap --script-args: a name followed by "="
// (quotes and spaces allowed between), at any depth of "{...}" tables.
var nseArgKeyRE = regexp.MustCompile(`([A-Za-z0-9_.\-]+)["'\s\]]*=`)

// nseFileArgRE matches a word of an argument's name that says the argument
// names a file or directory to read or write: http-fetch.destination,
// unpwdb's userdb and passdb, brute.credfile, dns-brute.hostlist,
// http-vhosts.filelist, http-put.file, smb-psexec.config,
// ssh-publickey-acceptance.privatekeys, ssh-hostkey.known-hosts, any
// *file, *dir, *path, *db, output, log.
//
// The second line lists the names that say nothing of a file but name one
// in the NSE scripts and libraries nmap installs (7.94/7.95, found by
// following every stdnse.get_script_args and nmap.registry.args read to
// io.open, io.lines, loadfile or a library helper that opens a file):
// http-enum's alias "fingerprints" (loaded as Lua), hostmap-bfk.prefix and
// hostmap.prefix (write), puppet-naivesigning.csr, targets-xml.iX,
// http-sql-injection.errorstrings, sip-enum-users.users, oracle-sid-brute's
// oraclesids (read), snmp-ios-config.tftproot (write), ldap.savesearch and
// ldap.saveprefix (write).
var nseFileArgRE = regexp.MustCompile(`^(.*file.*|.*path.*|.*db|db.*|.*dest.*|.*output.*|out|outdir|dir|dirs|.*dir|directory|.*folder.*|.*keys?|.*list|conf|config|.*cfg|known|log|logs|save.*|store|template.*|datadir|` +
	`fingerprints?|.*prefix|csr|ix|errorstrings|users|.*sids|tftproot)$`)

// checkNSEArgs refuses script arguments whose name says they name a file
// or directory: nmap's scripts would read it (and send its lines to the
// target) or write it (a file a later run could load as a script).
func (p *Policy) checkNSEArgs(v string) error {
	for _, m := range nseArgKeyRE.FindAllStringSubmatch(v, -1) {
		key := m[1]
		name := key[strings.LastIndex(key, ".")+1:]
		for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '-' || r == '_' }) {
			if nseFileArgRE.MatchString(w) {
				return fmt.Errorf("script argument %q may read or write a file on the worker, and is refused", key)
			}
		}
	}
	// Values too: "x=/etc/passwd" names a file whatever the key.
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(",={}\"'", r) }) {
		if err := p.checkNotAFile(s); err != nil {
			return err
		}
	}
	return nil
}
