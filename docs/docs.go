// Package docs embeds the documents the server serves: the REST gateway's OpenAPI
// description.
package docs

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// OpenAPIYAML is the OpenAPI 3.1 description of the REST gateway (docs/openapi.yaml).
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIJSON returns the same document as JSON.
func OpenAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.MarshalIndent(doc, "", "  ")
}
