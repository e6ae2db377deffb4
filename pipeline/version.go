package pipeline

// Version is the privagg version, set at build time with
// -ldflags "-X github.com/privagg/privagg/pipeline.Version=...".
var Version = "dev"
