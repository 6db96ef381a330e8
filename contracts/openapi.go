package contracts

import _ "embed" // for the contract below

// OpenAPI is the HTTP contract for store checkout systems, contracts/openapi.yaml, as
// written (OpenAPI 3.0.3 YAML). payhub serves it at GET /openapi.yaml and validates requests
// against it; its info.version is the current API version.
//
//go:embed openapi.yaml
var OpenAPI []byte
