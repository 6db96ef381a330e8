package contracts

// APIVersion is the dated version of the store API that this build speaks; it equals
// info.version in openapi.yaml and is sent as the API-Version response header.
const APIVersion = "2026-11-28"
