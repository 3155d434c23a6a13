package httpapi

import (
	"regexp"
	"strings"
)

var pathParamRE = regexp.MustCompile(`\{([a-zA-Z_]+)\.{0,3}\}`)

// OpenAPI builds the OpenAPI 3.1 document of the JSON and inference routes
// from the route table, so the document cannot drift from the routes and
// their declared permissions (x-hygie-permission).
func (s *Server) OpenAPI(version string) map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		if rt.Web {
			continue
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": strings.ToLower(rt.Method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", "-", "_").Replace(rt.Pattern),
			"responses": map[string]any{
				"200":     map[string]any{"description": "success"},
				"default": map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
			},
		}
		if rt.Tag != "" {
			op["tags"] = []string{rt.Tag}
		}
		if rt.Scope == Public {
			op["security"] = []any{}
		} else {
			op["x-hygie-scope"] = rt.Scope.String()
		}
		if rt.Perm != "" {
			op["x-hygie-permission"] = string(rt.Perm)
		}
		var params []any
		for _, m := range pathParamRE.FindAllStringSubmatch(rt.Pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		p := pathParamRE.ReplaceAllString(rt.Pattern, "{$1}")
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "hygie API",
			"version":     version,
			"description": "REST API of hygie, the MLOps platform for hospital data teams. Authenticate with 'Authorization: Bearer <token>' or HTTP Basic (username, token).",
		},
		"paths":    paths,
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"basic": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
				"basic":  map[string]any{"type": "http", "scheme": "basic"},
			},
			"schemas": map[string]any{
				"Error": map[string]any{
					"type": "object",
					"properties": map[string]any{"error": map[string]any{
						"type":     "object",
						"required": []string{"code", "message"},
						"properties": map[string]any{
							"code":       map[string]any{"type": "string", "enum": []string{"invalid", "not_found", "conflict", "unauthenticated", "forbidden", "internal"}},
							"message":    map[string]any{"type": "string"},
							"request_id": map[string]any{"type": "string"},
						},
					}},
				},
			},
		},
	}
}
