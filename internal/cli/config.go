package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Settings come, first to last, from a flag on the command line, a SORTIE_*
// environment variable, the config file, and the flag's default. The
// environment variable of --max-attempts is SORTIE_MAX_ATTEMPTS. The config
// file has the same names with "_" for "-": top-level keys apply to every
// command that has the flag, and a section named after a command ("worker:",
// "server:", "x:") applies to that command only and wins over the top level.
//
//	server: nats://sortie-nats:4222
//	creds: /etc/sortie/worker.creds
//	worker:
//	  concurrency: 8
//	  eviction: requeue-remainder
//	  allow_dir: [/srv/wordlists, /srv/nuclei-templates]

// configPath is --config, SORTIE_CONFIG, or $XDG_CONFIG_HOME/sortie/config.yaml.
func configPath(flag string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if v := os.Getenv("SORTIE_CONFIG"); v != "" {
		return v, true
	}
	if c := configDir(); c != "" {
		return filepath.Join(c, "config.yaml"), false
	}
	return "", false
}

// config is the parsed config file: keys by section ("" is the top level).
type config map[string]map[string]configValue

type configValue struct {
	values []string
	line   int
}

// loadConfig reads the config file; a missing default file is no error.
func loadConfig(path string, explicit bool) (config, error) {
	cfg := config{}
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return cfg, nil
		}
		return nil, usagef("config file: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, usagef("config file %s: %v", path, err)
	}
	if len(root.Content) == 0 {
		return cfg, nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, usagef("%s:%d: the config file must be a mapping of settings", path, top.Line)
	}
	var errs []error
	var walk func(section string, n *yaml.Node)
	walk = func(section string, n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case v.Kind == yaml.MappingNode && section == "":
				walk(k.Value, v)
			case v.Kind == yaml.ScalarNode:
				add(cfg, section, k.Value, configValue{values: []string{v.Value}, line: k.Line})
			case v.Kind == yaml.SequenceNode:
				cv := configValue{line: k.Line}
				for _, item := range v.Content {
					if item.Kind != yaml.ScalarNode {
						errs = append(errs, fmt.Errorf("%s:%d: %s: list items must be plain values", path, item.Line, k.Value))
						continue
					}
					cv.values = append(cv.values, item.Value)
				}
				add(cfg, section, k.Value, cv)
			default:
				errs = append(errs, fmt.Errorf("%s:%d: %s: expected a value or a list", path, k.Line, k.Value))
			}
		}
	}
	walk("", top)
	if len(errs) > 0 {
		return nil, usageError{errors.Join(errs...)}
	}
	return cfg, nil
}

func add(cfg config, section, key string, v configValue) {
	if cfg[section] == nil {
		cfg[section] = map[string]configValue{}
	}
	cfg[section][strings.ReplaceAll(key, "-", "_")] = v
}

// applySettings fills the flags of cmd that were not given on the command
// line from the environment and the config file, and reports config keys
// that name no flag of any command (a typo would otherwise be silent).
func applySettings(cmd *cobra.Command, cfg config, path string) error {
	var errs []error
	set := func(f *pflag.Flag, values []string, from string) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if err := sv.Replace(values); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", from, err))
			}
			return
		}
		if len(values) != 1 {
			errs = append(errs, fmt.Errorf("%s: --%s takes one value", from, f.Name))
			return
		}
		if err := f.Value.Set(values[0]); err != nil {
			errs = append(errs, settingError(f, values[0], from, err))
		}
	}
	section := cmd.Name()
	apply := func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "config" {
			return
		}
		if _, isToolOption := f.Annotations["sortie-option"]; isToolOption {
			return // a tool's options are given per run, not by environment
		}
		key := strings.ReplaceAll(f.Name, "-", "_")
		env := "SORTIE_" + strings.ToUpper(key)
		if v, ok := os.LookupEnv(env); ok {
			values := []string{v}
			if _, isList := f.Value.(pflag.SliceValue); isList {
				values = strings.Split(v, ",") // a token or URL list keeps its commas
			}
			set(f, values, env)
			return
		}
		if v, ok := cfg[section][key]; ok {
			set(f, v.values, fmt.Sprintf("%s:%d", path, v.line))
			return
		}
		if v, ok := cfg[""][key]; ok {
			set(f, v.values, fmt.Sprintf("%s:%d", path, v.line))
		}
	}
	cmd.Flags().VisitAll(apply)
	cmd.InheritedFlags().VisitAll(apply)
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// settingError says which setting holds a bad value, and what its flag
// wants, without the parser's own words (strconv.ParseInt: ...) when the
// flag is a plain number or duration.
func settingError(f *pflag.Flag, value, from string, err error) error {
	switch t := f.Value.Type(); t {
	case "int", "int64", "uint", "uint64", "int32", "float64":
		return fmt.Errorf("%s: %q for --%s is not a number", from, value, f.Name)
	case "duration":
		return fmt.Errorf("%s: %q for --%s is not a duration (30s, 5m, 1h)", from, value, f.Name)
	case "bool":
		return fmt.Errorf("%s: %q for --%s is not true or false", from, value, f.Name)
	}
	return fmt.Errorf("%s: %v", from, err)
}

// checkConfigKeys reports keys of the config file that no command knows.
func checkConfigKeys(root *cobra.Command, cfg config, path string) error {
	known := map[string]map[string]bool{"": {}}
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		names := map[string]bool{}
		mark := func(f *pflag.Flag) {
			k := strings.ReplaceAll(f.Name, "-", "_")
			names[k] = true
			known[""][k] = true
		}
		c.Flags().VisitAll(mark)
		c.PersistentFlags().VisitAll(mark)
		if known[c.Name()] == nil {
			known[c.Name()] = names
		} else {
			for k := range names {
				known[c.Name()][k] = true
			}
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	var errs []error
	for section, keys := range cfg {
		for k, v := range keys {
			if section == "" && known[""][k] || section != "" && known[section] != nil && (known[section][k] || known[""][k]) {
				continue
			}
			what := k
			if section != "" {
				what = section + "." + k
			}
			errs = append(errs, fmt.Errorf("%s:%d: unknown setting %q", path, v.line, what))
		}
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}
