package rest

import (
	"reflect"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/usher-rtc/usher/docs"
	"github.com/usher-rtc/usher/internal/config"
)

// The preset endpoints show and take config.PresetConfig as it is: a field added to it
// must be added to the OpenAPI document's preset schemas too (they refuse properties
// they do not list), or real answers stop matching the document.
func TestPresetSchemasListEveryPresetField(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(docs.OpenAPIYAML, &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]reflect.Type) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	withUpdated := jsonFields(reflect.TypeOf(presetChangeResponse{}))
	for schema, fields := range map[string][]string{
		"Preset":                keys(jsonFields(reflect.TypeOf(presetJSON{}))),
		"PresetUpdate":          keys(withUpdated),
		"CreatePresetRequest":   keys(jsonFields(reflect.TypeOf(createPresetRequest{}))),
		"PresetDefinition":      keys(jsonFields(reflect.TypeOf(config.PresetConfig{}))),
		"PresetHostControls":    keys(jsonFields(reflect.TypeOf(config.HostControls{}))),
		"PresetHostControlsOut": keys(jsonFields(reflect.TypeOf(config.HostControls{}))),
	} {
		var documented []string
		for k := range doc.Components.Schemas[schema].Properties {
			documented = append(documented, k)
		}
		slices.Sort(documented)
		if !slices.Equal(documented, fields) {
			t.Errorf("docs/openapi.yaml %s lists %v; the gateway has %v", schema, documented, fields)
		}
	}
}
