package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI 3.1 document of every route (api/openapi.yaml;
// api/openapi_test.go keeps it true to the router and to real answers).
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the document as JSON, converted once.
var openAPIJSON = mustYAMLToJSON(openAPIYAML)

// OpenAPIYAML returns the document as written.
func OpenAPIYAML() []byte { return openAPIYAML }

// OpenAPIJSON returns the document as served at GET /openapi.json.
func OpenAPIJSON() []byte { return openAPIJSON }

func mustYAMLToJSON(src []byte) []byte {
	var doc any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		panic(fmt.Sprintf("api/openapi.yaml does not parse: %v", err))
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("api/openapi.yaml has no JSON form (a non-string key?): %v", err))
	}
	return out
}

// openAPI serves the document: open, it holds no data.
func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", openAPIJSON)
}
