# The image in tags is what the target builds; contexts name images it reads.
variable "BASE" {
  default = "alpine:3.20"
}

group "default" {
  targets = ["app", "docs"]
}

target "app" {
  dockerfile = "Dockerfile"
  tags = ["acme/app:latest", "docker.io/acme/app:1.0"]
  contexts = {
    base = "docker-image://debian:bookworm-slim"
    golang = "docker-image://golang:1.23" // a comment
    "src-image": "docker-image://${BASE}",
    builder = "target:builder"
    vendored = "oci-layout://./vendor/image"
    local = "./src"
  }
  args = {
    NOT_A_CONTEXT = "docker-image://python:3"
  }
}

/* target "old" { contexts = { x = "docker-image://ignored:1" } } */
target "docs" {
  contexts = { theme = "docker-image://ghcr.io/acme/theme:2", escaped = "docker-image://node\u003a22" }
}
