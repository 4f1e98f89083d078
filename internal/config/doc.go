package config

import (
	"fmt"
	"reflect"
	"strings"
)

// descriptions maps each variable name to its `desc` tag.
func descriptions() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if name := f.Tag.Get("env"); name != "" {
				out[name] = f.Tag.Get("desc")
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	return out
}

// fieldVariables maps Go field names to the variables of fields so named.
func fieldVariables() map[string][]string {
	out := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if name := f.Tag.Get("env"); name != "" {
				out[f.Name] = append(out[f.Name], name)
			} else if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	return out
}

// MarkdownTable renders every variable as the README's configuration table.
func MarkdownTable() (string, error) {
	vars, err := Variables()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| variable | default | what it does |\n|---|---|---|\n")
	for _, v := range vars {
		def := "(unset)"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(v.Description, "|", "\\|"))
	}
	return b.String(), nil
}
